/**
 * Faults at every API call of connect, each checked through both emulators' state and a real git fetch;
 * the matrix itself, and which runs go through the CLI process, is in test/support/fault-matrix.ts.
 */
import { describe } from 'node:test';
import { describeLanes, matrixTitle } from '../support/fault-matrix';

describe(matrixTitle('connect'), { concurrency: true }, () => describeLanes('connect'));
