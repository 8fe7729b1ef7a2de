// A second test reporter, after the TAP one: when the run ends it lists the
// tests that failed, with their files and first lines of error, so that the
// tail of a long run (all a CI log may keep) still says what failed.
export default async function* failures(source) {
  const failed = []
  for await (const event of source) {
    if (event.type !== 'test:fail') continue
    const {name, file, nesting, details} = event.data
    // A suite fails when a test in it fails: the test itself is listed.
    if (details?.type === 'suite') continue
    const error = details?.error
    const cause = error?.cause ?? error
    const message = String(cause?.message ?? cause ?? 'failed').split('\n').slice(0, 6).join('\n    ')
    failed.push(`- ${file ?? '?'}${nesting > 0 ? ` (nested ${nesting})` : ''}: ${name}\n    ${message}`)
  }
  if (failed.length === 0) return
  yield `\n# ${failed.length} failed test${failed.length === 1 ? '' : 's'}:\n${failed.join('\n')}\n`
}
