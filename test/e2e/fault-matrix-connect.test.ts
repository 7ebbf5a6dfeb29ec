/**
 * Faults at every API call of connect, each checked through both emulators' state and a real git fetch;
 * the matrix itself, and which runs go through the CLI process, is in test/support/fault-matrix.ts.
 */
import { describeMatrix } from '../support/fault-matrix';

describeMatrix('connect');
