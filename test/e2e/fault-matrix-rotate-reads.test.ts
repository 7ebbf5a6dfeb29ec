/**
 * Faults at every API call of rotate that reads, each checked through both emulators' state and a real git
 * fetch: the reads lane of the rotate matrix (fault-matrix-rotate-writes.test.ts has the writes). The matrix
 * itself, and which runs go through the CLI process, is in test/support/fault-matrix.ts.
 */
import { describe } from 'node:test';
import { describeLane, matrixTitle } from '../support/fault-matrix';

describe(matrixTitle('rotate'), () => describeLane('rotate', 'reads'));
