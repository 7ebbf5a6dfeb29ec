/**
 * Faults at every API call of rotate that writes, each checked through both emulators' state and a real git
 * fetch: the writes lane of the rotate matrix (fault-matrix-rotate-reads.test.ts has the reads). The matrix
 * itself, and which runs go through the CLI process, is in test/support/fault-matrix.ts.
 */
import { describe } from 'node:test';
import { describeLane, matrixTitle } from '../support/fault-matrix';

describe(matrixTitle('rotate'), () => describeLane('rotate', 'writes'));
