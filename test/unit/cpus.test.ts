// CPU sets: Linux's list notation both ways, this process's affinity, the
// replica/rest split tune measures with, and pinning a live process.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {once} from 'node:events'
import {availableCpus, formatCpuList, parseCpuList, pinnedArgv, pinProcess, splitCpus} from '../../src/runtime/cpus.js'

describe('CPU lists', () => {
  test('parses single CPUs and ranges, ascending and without repeats', () => {
    assert.deepEqual(parseCpuList('0-2,5'), [0, 1, 2, 5])
    assert.deepEqual(parseCpuList('7'), [7])
    assert.deepEqual(parseCpuList(' 5, 1-2 ,2 '), [1, 2, 5])
    assert.deepEqual(parseCpuList('3-3'), [3])
  })

  test('rejects what is not a CPU list', () => {
    for (const bad of ['', 'a', '1,', '-1', '2-1', '1-2-3', '1.5', '0x2']) assert.equal(parseCpuList(bad), undefined, bad)
  })

  test('formats runs as ranges', () => {
    assert.equal(formatCpuList([0, 1, 2, 5]), '0-2,5')
    assert.equal(formatCpuList([5, 2, 1, 0, 2]), '0-2,5')
    assert.equal(formatCpuList([3]), '3')
    assert.equal(formatCpuList([1, 3, 5, 6]), '1,3,5-6')
    assert.equal(formatCpuList([]), '')
    assert.deepEqual(parseCpuList(formatCpuList([0, 2, 3, 4, 9, 10])), [0, 2, 3, 4, 9, 10])
  })
})

describe('available CPUs', () => {
  test('are this process’s Cpus_allowed_list', () => {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    assert.ok(line, 'Linux reports the affinity in /proc/self/status')
    const cpus = availableCpus()
    assert.deepEqual(cpus, parseCpuList(line[1]))
    assert.ok(cpus.length >= 1)
  })
})

describe('splitting CPUs between a replica and the rest', () => {
  test('the replica takes the highest-numbered CPUs; the rest keeps the others', () => {
    assert.deepEqual(splitCpus([0, 1, 2, 3], 2), {replica: [2, 3], rest: [0, 1], fits: true})
    assert.deepEqual(splitCpus([0, 1, 2, 3], 3), {replica: [1, 2, 3], rest: [0], fits: true})
    assert.deepEqual(splitCpus([5, 0, 3, 8], 1), {replica: [8], rest: [0, 3, 5], fits: true})
  })

  test('a fractional compute.cpu takes whole CPUs', () => {
    assert.deepEqual(splitCpus([0, 1, 2, 3], 0.5), {replica: [3], rest: [0, 1, 2], fits: true})
    assert.deepEqual(splitCpus([0, 1, 2, 3], 1.5), {replica: [2, 3], rest: [0, 1], fits: true})
  })

  test('a machine with fewer than replica + 1 CPUs does not fit: the replica gets them all, nothing is left', () => {
    assert.deepEqual(splitCpus([0, 1], 2), {replica: [0, 1], rest: [], fits: false})
    assert.deepEqual(splitCpus([0, 1, 2, 3], 4), {replica: [0, 1, 2, 3], rest: [], fits: false})
    assert.deepEqual(splitCpus([0], 1), {replica: [0], rest: [], fits: false})
  })
})

describe('pinning', () => {
  test('a command started pinned runs on those CPUs only', () => {
    const argv = pinnedArgv(['sleep', '1'], [0, 2, 3])
    assert.ok(argv, 'taskset is installed here')
    assert.match(argv[0], /taskset$/)
    assert.deepEqual(argv.slice(1), ['-c', '0,2-3', 'sleep', '1'])
  })

  test('pinProcess pins every thread of a live process to the CPUs given', async () => {
    const cpu = Math.max(...availableCpus())
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'})
    try {
      await once(child, 'spawn')
      assert.equal(await pinProcess(child.pid!, [cpu]), true)
      const tasks = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      assert.equal(/^Cpus_allowed_list:\s*(.+)$/m.exec(tasks)?.[1], String(cpu))
      // Node's other threads (libuv's pool, V8's) are pinned too, not only the main one.
      const threads = readdirSync(`/proc/${child.pid}/task`)
      assert.ok(threads.length > 1)
      for (const tid of threads) {
        const status = readFileSync(`/proc/${child.pid}/task/${tid}/status`, 'utf8')
        assert.equal(/^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1], String(cpu), `thread ${tid}`)
      }
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('pinProcess says why when it cannot pin, and returns false', async () => {
    const lines: string[] = []
    // No process has this pid (above pid_max's largest value).
    assert.equal(await pinProcess(4_194_305, [0], (line) => lines.push(line)), false)
    assert.equal(lines.length, 1)
    assert.match(lines[0], /could not pin process 4194305 to CPUs 0: no such process/)
    // A CPU this machine does not have: taskset refuses, and the line carries its reason.
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'})
    try {
      await once(child, 'spawn')
      assert.equal(await pinProcess(child.pid!, [4095], (line) => lines.push(line)), false)
      assert.match(lines[1], new RegExp(`could not pin process ${child.pid} to CPUs 4095: .*Invalid argument`))
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('without taskset on PATH: nothing is pinned, and a log line says so', async () => {
    const path = process.env.PATH
    process.env.PATH = '/nonexistent'
    try {
      assert.equal(pinnedArgv(['sleep', '1'], [0]), null)
      const lines: string[] = []
      assert.equal(await pinProcess(process.pid, [0], (line) => lines.push(line)), false)
      assert.deepEqual(lines, [`taskset (util-linux) is not installed: process ${process.pid} was not pinned to CPUs 0`])
    } finally {
      process.env.PATH = path
    }
  })
})
