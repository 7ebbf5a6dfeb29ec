// Node test-runner reporter that counts leaf tests and writes {passed, failed, skipped} as JSON.
// scripts/run-tests.mjs turns it into the closing "N passed, N failed" line. `files` holds each file's
// time in ms (its top-level tests and suites, which run one after another within a file).
export default async function* summary(source) {
  const counts = { passed: 0, failed: 0, skipped: 0, files: {} };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data;
    if (data.nesting === 0 && data.file && typeof data.details?.duration_ms === 'number') {
      counts.files[data.file] = (counts.files[data.file] ?? 0) + data.details.duration_ms;
    }
    if (data.details?.type === 'suite') continue;
    if (data.skip || data.todo) counts.skipped += 1;
    else if (event.type === 'test:pass') counts.passed += 1;
    else counts.failed += 1;
  }
  yield JSON.stringify(counts);
}
