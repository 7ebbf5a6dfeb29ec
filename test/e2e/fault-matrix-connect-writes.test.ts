/**
 * Faults at every API call of connect that writes, each checked through both emulators' state and a real git
 * fetch: the writes lane of the connect matrix (fault-matrix-connect-reads.test.ts has the reads). The matrix
 * itself, and which runs go through the CLI process, is in test/support/fault-matrix.ts.
 */
import { describe } from 'node:test';
import { describeLane, matrixTitle } from '../support/fault-matrix';

describe(matrixTitle('connect'), () => describeLane('connect', 'writes'));
