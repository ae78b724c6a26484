// A node --test reporter (tests/suites/50-node.sh): one line `<count>\t<file>` a test file,
// counting the tests that ran and passed there. Suites, skipped and todo tests do not count,
// nor the stand-in entry node reports for a file that declared no test at all (named after
// the file itself, and counted by `# pass` as if it were a test).
export default async function* perFile(source) {
  const ran = new Map()
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue
    const d = event.data
    if (!d.file) continue
    if (!ran.has(d.file)) ran.set(d.file, 0)
    const counts =
      event.type === 'test:pass' &&
      d.details?.type !== 'suite' &&
      !d.skip &&
      !d.todo &&
      d.name !== d.file
    if (counts) ran.set(d.file, ran.get(d.file) + 1)
  }
  for (const [file, n] of ran) yield `${n}\t${file}\n`
}
