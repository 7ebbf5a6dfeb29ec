'use strict';
// @forge/cli-shared loads keytar inside try/catch and works without it (as after an install with
// --ignore-scripts): failing to load is the whole behaviour wanted.
throw new Error('keytar is not installed in this project: Forge CLI logins are not stored here.');
