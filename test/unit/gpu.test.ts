import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync, chmodSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {assignGpus, listGpus, parseGpuList} from '../../src/runtime/gpu.js'
import {MlserveError} from '../../src/errors.js'

const csv = '0, GPU-aaa, NVIDIA H100 80GB HBM3, 81559\n1, GPU-bbb, NVIDIA H100 80GB HBM3, 81559\n'

test('parses nvidia-smi CSV', () => {
  const gpus = parseGpuList(csv)
  assert.equal(gpus.length, 2)
  assert.deepEqual(gpus[1], {index: '1', uuid: 'GPU-bbb', name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559})
})

test('each replica gets distinct GPUs', () => {
  const gpus = parseGpuList(csv)
  assert.deepEqual(assignGpus(gpus, [1, 1]), [['0'], ['1']])
  assert.deepEqual(assignGpus(gpus, [2]), [['0', '1']])
})

test('asking for more GPUs than exist is MLS_GPU_UNAVAILABLE', () => {
  const gpus = parseGpuList(csv)
  assert.throws(
    () => assignGpus(gpus, [1, 1, 1]),
    (error: MlserveError) => {
      assert.equal(error.code, 'MLS_GPU_UNAVAILABLE')
      assert.match(error.message, /3 GPU\(s\) requested but 2 available/)
      return true
    },
  )
})

test('no nvidia-smi means a clear error, not a crash', async () => {
  await assert.rejects(listGpus(1, '/nonexistent/nvidia-smi'), (error: MlserveError) => {
    assert.equal(error.code, 'MLS_GPU_UNAVAILABLE')
    assert.match(error.message, /no NVIDIA driver/)
    return true
  })
})

test('reads a real nvidia-smi-compatible program (a stand-in script in this unit test)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-gpu-'))
  try {
    const fake = join(dir, 'nvidia-smi')
    writeFileSync(fake, `#!/bin/sh\nprintf '${csv.replaceAll('\n', '\\n')}'\n`)
    chmodSync(fake, 0o755)
    const gpus = await listGpus(1, fake)
    assert.deepEqual(gpus.map((g) => g.index), ['0', '1'])
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
