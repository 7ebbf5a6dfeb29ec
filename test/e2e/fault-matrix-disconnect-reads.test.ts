/**
 * Faults at every API call of disconnect that reads, each checked through both emulators' state and a real git
 * fetch: the reads lane of the disconnect matrix (fault-matrix-disconnect-writes.test.ts has the writes). The matrix
 * itself, and which runs go through the CLI process, is in test/support/fault-matrix.ts.
 */
import { describe } from 'node:test';
import { describeLane, matrixTitle } from '../support/fault-matrix';

describe(matrixTitle('disconnect'), () => describeLane('disconnect', 'reads'));
