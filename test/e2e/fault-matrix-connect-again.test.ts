/**
 * Faults at every API call of connect again, each checked through both emulators' state and a real git fetch;
 * the matrix itself, and which runs go through the CLI process, is in test/support/fault-matrix.ts.
 */
import { describe } from 'node:test';
import { describeLane, matrixTitle } from '../support/fault-matrix';

describe(matrixTitle('connect again'), () => describeLane('connect again'));
