// The code version mlserve apply compares: the predictor and the project
// modules it imports, transitively, and nothing else.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {codeVersion} from '../../src/runtime/code-version.js'
import {makeProject} from '../helpers/projects.js'

test('a change to the predictor or to a module it imports (directly, through a package, or relatively) changes the version; other files do not', () => {
  const project = makeProject({
    'a.py': 'import os\nimport helpers\nfrom pkg.inner import thing\n\nclass PythonPredictor: pass\n',
    'b.py': 'class PythonPredictor: pass\n',
    'helpers.py': 'from . import deeper\nX = 1\n',
    'deeper.py': 'Y = 1\n',
    'pkg/__init__.py': '',
    'pkg/inner.py': 'thing = 1\n',
    'unrelated.py': 'Z = 1\n',
  })
  try {
    const a = join(project.dir, 'a.py')
    const b = join(project.dir, 'b.py')
    const before = codeVersion(project.dir, a)
    const beforeB = codeVersion(project.dir, b)
    assert.match(before!, /^[0-9a-f]{16}$/)
    assert.equal(codeVersion(project.dir, a), before, 'the same code, the same version')

    writeFileSync(join(project.dir, 'unrelated.py'), 'Z = 2\n')
    mkdirSync(join(project.dir, 'data'))
    writeFileSync(join(project.dir, 'data', 'x.csv'), '1,2\n')
    assert.equal(codeVersion(project.dir, a), before, 'a file the predictor does not import changes nothing')

    const versions = new Set([before])
    for (const [file, text] of [['deeper.py', 'Y = 2\n'], ['pkg/inner.py', 'thing = 2\n'], ['helpers.py', 'from . import deeper\nX = 2\n'], ['a.py', 'import helpers\nfrom pkg.inner import thing\n\nclass PythonPredictor: pass  # v2\n']]) {
      writeFileSync(join(project.dir, file), text)
      const version = codeVersion(project.dir, a)
      assert.ok(!versions.has(version), `editing ${file} gives a new version`)
      versions.add(version)
    }
    assert.equal(codeVersion(project.dir, b), beforeB, "another API's predictor keeps its version")
    assert.equal(codeVersion(project.dir, undefined), undefined)
  } finally {
    project.cleanup()
  }
})
