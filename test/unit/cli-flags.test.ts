// The typed flags of src/cli/flags.ts: each parses the forms it documents, and
// rejects anything else with a FlagValueError naming the flag, the value and
// the accepted form (the command turns it into MLS_INVALID_FLAG).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import * as flag from '../../src/cli/flags.js'
import {FlagValueError} from '../../src/cli/flags.js'
import {usageError} from '../../src/cli/usage-errors.js'
import {availableCpus, formatCpuList} from '../../src/runtime/cpus.js'

type Parsed = {parse: (input: string, context: unknown, options: {name: string}) => Promise<unknown>}
const parse = (declared: unknown, input: string, name = 'it'): Promise<unknown> => (declared as Parsed).parse(input, {}, {name})

const cases: Array<[string, unknown, Array<[string, unknown]>, string[]]> = [
  ['duration', flag.duration({description: 'D.'}), [['30s', 30_000], ['500ms', 500], ['2', 2000], ['1m30s', 90_000], ['0.5', 500]], ['0', 'soon', '', '-1s', '5 parsecs']],
  ['durationOrZero', flag.durationOrZero({description: 'D.'}), [['0', 0], ['0s', 0], ['5', 5000]], ['-1', 'x']],
  ['size', flag.size({description: 'S.'}), [['10Mi', 10 * 1024 ** 2], ['512Ki', 512 * 1024], ['1048576', 1048576]], ['0', 'big', '-1Mi']],
  ['byteCount', flag.byteCount({description: 'B.'}), [['10MB', 10_000_000], ['5Mi', 5 * 1024 ** 2], ['0', 0]], ['lots', '-5']],
  ['rate', flag.rate({description: 'R.'}), [['200', 200], ['0.5', 0.5]], ['0', '-3', 'fast', '']],
  ['milliseconds', flag.milliseconds({description: 'M.'}), [['200', 200], ['12.5', 12.5]], ['0', 'x']],
  ['fraction', flag.fraction({description: 'F.'}), [['0.01', 0.01], ['1%', 0.01], ['0', 0], ['1', 1], ['95%', 0.95]], ['1.5', '101%', '%', 'x', '-0.1']],
  ['share', flag.share({description: 'S.'}), [['0.7', 0.7], ['70%', 0.7], ['1', 1]], ['0', '1.5', '0%']],
  ['positiveInt', flag.positiveInt({description: 'P.'}), [['1', 1], ['256', 256]], ['0', '1.5', '-2', 'two', '1e3']],
  ['count', flag.count({description: 'C.'}), [['0', 0], ['4', 4]], ['-1', '0.5']],
  ['integer', flag.integer({description: 'I.'}), [['42', 42], ['-7', -7]], ['4.2', 'x']],
  ['port', flag.port({description: 'P.'}), [['0', 0], ['8888', 8888], ['65535', 65535]], ['65536', '-1', 'http']],
  ['intList', flag.intList({description: 'L.'}), [['4,1,2,2', [1, 2, 4]], ['1', [1]], [' 1 , 3 ', [1, 3]]], ['1,two', '', '0,1', '1,,2']],
  ['cpuList', flag.cpuList({description: 'C.'}), [['0', [0]], [' 0 ', [0]], [formatCpuList(availableCpus()), availableCpus()]], ['', 'x', '1-0', '0,', '-1', '4095', `0-${Math.max(...availableCpus()) + 1}`]],
  ['header', flag.header({description: 'H.'}), [['Authorization: Bearer x', ['Authorization', 'Bearer x']], ['X-A:1', ['X-A', '1']]], ['NoColon', ': value', 'Bad Name: v']],
  ['file', flag.file(['.json', '.html'])({description: 'F.'}), [['out.json', 'out.json'], ['r.HTML', 'r.HTML']], ['report.pdf', 'json', '']],
]

for (const [name, declared, good, bad] of cases) {
  test(`flag.${name} parses its documented forms and rejects the rest, naming the flag and the value`, async () => {
    for (const [input, expected] of good) assert.deepEqual(await parse(declared, input), expected, `${name} ${JSON.stringify(input)}`)
    for (const input of bad) {
      await assert.rejects(parse(declared, input, 'some-flag'), (error: unknown) => {
        assert.ok(error instanceof FlagValueError, `${name} ${JSON.stringify(input)} throws a FlagValueError`)
        assert.equal(error.flag, '--some-flag')
        assert.equal(error.value, input)
        assert.ok(error.expected.length > 0)
        return true
      })
    }
  })
}

test('flag.cpuList names the CPUs this process may use when a CPU is not one of them', async () => {
  await assert.rejects(parse(flag.cpuList({description: 'C.'}), '4095', 'replica-cpus'), (error: unknown) => {
    assert.ok(error instanceof FlagValueError)
    assert.equal(error.flag, '--replica-cpus')
    assert.equal(error.value, '4095')
    assert.match(error.expected, new RegExp(`^a list of the CPUs this process may use \\(${formatCpuList(availableCpus())}\\), such as ${Math.max(...availableCpus())}`))
    return true
  })
})

test('a default is written as a user types it, parsed once, and shown as written in --help', async () => {
  const declared = flag.duration({description: 'D.', default: '60s'}) as unknown as {default: number; defaultHelp: () => Promise<string>}
  assert.equal(declared.default, 60_000)
  assert.equal(await declared.defaultHelp(), '60s')
  assert.throws(() => flag.duration({description: 'D.', default: 'soon'}), FlagValueError, 'a bad default fails where it is declared')
})

test('a FlagValueError becomes MLS_INVALID_FLAG, even after oclif rewrote its message', () => {
  const error = new FlagValueError('--timeout', 'soon', 'a positive duration such as 30s')
  error.message = `Parsing --timeout \n\t${error.message}\nSee more help with --help`
  const mlserve = usageError(error, {id: 'run', flags: ['timeout'], usage: '[DIR]'})
  assert.equal(mlserve?.code, 'MLS_INVALID_FLAG')
  assert.equal(mlserve?.message, 'Invalid value for --timeout: received "soon".')
  assert.equal(mlserve?.suggestion, 'Pass --timeout as a positive duration such as 30s.')
  assert.equal(mlserve?.exitCode, 2)
})
