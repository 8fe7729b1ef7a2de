// The docker driver's pure parts: what the engine is asked to create (limits,
// GPUs, labels, ports), GPU support detection, log demultiplexing, ownership.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {hostname} from 'node:os'
import Docker from 'dockerode'
import {MlserveError} from '../../src/errors.js'
import {parseProject} from '../../src/config/index.js'
import {CONTAINER_PORT} from '../../src/runtime/harness/index.js'
import {
  containerLimits,
  demuxLogs,
  gpuDeviceRequests,
  gpuSupport,
  LABELS,
  ownerAlive,
  ownerLabels,
  pingDocker,
  processStartTicks,
} from '../../src/docker/index.js'
import {containerCreateOptions, containerName, exceptionLine, missingStandardModule, planDocker} from '../../src/runtime/docker-replica.js'
import type {ReplicaSpec} from '../../src/runtime/replica.js'
import {replicaSpec} from '../helpers/replica-spec.js'

const spec = replicaSpec

const create = (s: ReplicaSpec, limits = {}) =>
  containerCreateOptions(s, {image: 'iris:0.1.0', name: containerName(s), limits, labels: ownerLabels()})

describe('container create options', () => {
  test('compute.gpu becomes DeviceRequests with exactly the replica’s GPUs, distinct per replica', () => {
    const first = create(spec({index: 0, gpus: ['0']}))
    const second = create(spec({index: 1, gpus: ['1']}))
    assert.deepEqual(first.HostConfig?.DeviceRequests, [{Driver: 'nvidia', DeviceIDs: ['0'], Capabilities: [['gpu']]}])
    assert.deepEqual(second.HostConfig?.DeviceRequests, [{Driver: 'nvidia', DeviceIDs: ['1'], Capabilities: [['gpu']]}])
    const two = create(spec({gpus: ['2', '3']}))
    assert.deepEqual(two.HostConfig?.DeviceRequests?.[0].DeviceIDs, ['2', '3'])
    // GPUs go through DeviceRequests only, never an environment variable.
    assert.ok(!two.Env?.some((e) => /^(NVIDIA|CUDA)_VISIBLE_DEVICES=/.test(e)))
  })

  test('a CPU replica has no DeviceRequests', () => {
    assert.equal(create(spec()).HostConfig?.DeviceRequests, undefined)
    assert.equal(gpuDeviceRequests([]), undefined)
  })

  test('compute.cpu, compute.mem and compute.shm become NanoCpus, Memory and ShmSize', () => {
    const limits = containerLimits({cpu: '500m', mem: '256Mi', shm: '1Gi'})
    assert.deepEqual(limits, {NanoCpus: 500_000_000, Memory: 268_435_456, ShmSize: 1_073_741_824})
    const host = create(spec(), limits).HostConfig!
    assert.equal(host.NanoCpus, 500_000_000)
    assert.equal(host.Memory, 268_435_456)
    assert.equal(host.ShmSize, 1_073_741_824)
    assert.deepEqual(containerLimits({cpu: '2', mem: null}), {NanoCpus: 2_000_000_000})
    assert.deepEqual(containerLimits({cpu: null, mem: '1G'}), {Memory: 1_000_000_000})
  })

  test('the replica’s CPUs become CpusetCpus, next to NanoCpus from compute.cpu; an unpinned replica has none', () => {
    const host = create(spec({cpus: [3, 1, 2]}), containerLimits({cpu: '2', mem: null})).HostConfig!
    assert.equal(host.CpusetCpus, '1-3')
    assert.equal(host.NanoCpus, 2_000_000_000)
    assert.equal(create(spec({cpus: null})).HostConfig?.CpusetCpus, undefined)
  })

  test('published on a loopback port the engine picks; labelled as ours; the contract environment', () => {
    const options = create(spec({index: 4}))
    assert.deepEqual(options.ExposedPorts, {[`${CONTAINER_PORT}/tcp`]: {}})
    assert.deepEqual(options.HostConfig?.PortBindings, {[`${CONTAINER_PORT}/tcp`]: [{HostIp: '127.0.0.1', HostPort: ''}]})
    assert.equal(options.Labels?.[LABELS.managed], 'true')
    assert.equal(options.Labels?.[LABELS.ownerPid], String(process.pid))
    assert.equal(options.Labels?.[LABELS.api], 'iris')
    assert.equal(options.Labels?.[LABELS.replica], '4')
    assert.equal(options.Labels?.[LABELS.ownerHost], hostname())
    assert.equal(options.Image, 'iris:0.1.0')
    assert.match(options.name!, new RegExp(`^mlserve-iris-4-${process.pid}-[0-9a-f]{6}$`))
    const env = new Map(options.Env!.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
    assert.equal(env.get('MLSERVE_PORT'), '8080')
    assert.equal(env.get('MLSERVE_HOST'), '0.0.0.0')
    assert.equal(env.get('MLSERVE_PROCESSES'), '2')
    assert.equal(env.get('MLSERVE_THREADS'), '3')
    assert.equal(env.get('MLSERVE_PREDICTOR'), 'src/predictor.py')
    assert.equal(env.get('MLSERVE_CONFIG_JSON'), '{"k":1}')
    assert.equal(env.get('MODEL'), 'small')
    // Standard input is the lifeline: when mlserve's attach connection closes, the harness drains and exits.
    assert.equal(env.get('MLSERVE_WATCH_STDIN'), '1')
    assert.equal(options.OpenStdin, true)
    assert.equal(options.StdinOnce, true)
    assert.deepEqual(options.HostConfig?.RestartPolicy, {Name: 'no'})
  })
})

describe('GPU support of an engine', () => {
  const none = {hook: false, cdi: false}
  test('an nvidia runtime, the --gpus hook or an NVIDIA CDI spec is enough', () => {
    assert.match(gpuSupport({Runtimes: {runc: {}, nvidia: {path: 'nvidia-container-runtime'}}}, none)!, /nvidia runtime/)
    assert.match(gpuSupport({Runtimes: {runc: {}}}, {hook: true, cdi: false})!, /--gpus/)
    assert.match(gpuSupport({Runtimes: {runc: {}}, CDISpecDirs: ['/etc/cdi']}, {hook: false, cdi: true})!, /CDI/)
  })

  test('runc alone is not', () => {
    assert.equal(gpuSupport({Runtimes: {runc: {}, 'io.containerd.runc.v2': {}}}, none), null)
    assert.equal(gpuSupport({Runtimes: null, CDISpecDirs: null}, none), null)
    assert.equal(gpuSupport({Runtimes: {runc: {}}, CDISpecDirs: []}, {hook: false, cdi: true}), null)
  })
})

describe('logs and tracebacks', () => {
  const frame = (type: number, text: string): Buffer => {
    const body = Buffer.from(text)
    const header = Buffer.alloc(8)
    header[0] = type
    header.writeUInt32BE(body.length, 4)
    return Buffer.concat([header, body])
  }

  test('the engine’s multiplexed log frames are joined into text', () => {
    const buffer = Buffer.concat([frame(1, 'out line\n'), frame(2, 'Traceback (most recent call last):\n'), frame(2, "ModuleNotFoundError: No module named 'x'\n")])
    assert.equal(demuxLogs(buffer), "out line\nTraceback (most recent call last):\nModuleNotFoundError: No module named 'x'\n")
    assert.equal(demuxLogs(Buffer.from('plain tty text\n')), 'plain tty text\n')
  })

  test('the exception line of a traceback is the reason', () => {
    const lines = [
      'Traceback (most recent call last):',
      '  File "/app/predictor.py", line 1, in <module>',
      "ModuleNotFoundError: No module named 'nope'",
      '[mlserve] api=x the predictor failed to load in worker 0; stopping the replica (exit code 3)',
    ]
    assert.equal(exceptionLine(lines), "ModuleNotFoundError: No module named 'nope'")
    assert.equal(exceptionLine(['  raise ValueError("x")', 'ValueError']), 'ValueError')
    assert.equal(exceptionLine(['[mlserve] api=x stopped']), null)
  })

  test('a standard-library module missing under the harness or the standard library is the image’s fault, not the predictor’s', () => {
    const harness = ['Traceback (most recent call last):', '  File "/opt/mlserve/mlserve_harness/payloads.py", line 4, in <module>', '    import json', "ModuleNotFoundError: No module named 'json'"]
    assert.equal(missingStandardModule(harness), 'json')
    const stdlib = ['Traceback (most recent call last):', '  File "/app/predictor.py", line 1, in <module>', '  File "/usr/lib/python3.11/http/server.py", line 92, in <module>', '    import email.utils', "ModuleNotFoundError: No module named 'email'"]
    assert.equal(missingStandardModule(stdlib), 'email')
    const predictor = ['Traceback (most recent call last):', '  File "/opt/mlserve/mlserve_harness/predictor.py", line 70, in load_predictor', '  File "/app/predictor.py", line 1, in <module>', '    import sklearn', "ModuleNotFoundError: No module named 'sklearn'"]
    assert.equal(missingStandardModule(predictor), null)
    assert.equal(missingStandardModule(['ValueError: bad']), null)
  })
})

describe('ownership of containers', () => {
  test('a live owner is alive; a dead pid or a reused pid is not', () => {
    assert.equal(ownerAlive(ownerLabels()), true)
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
    const deadPid = Number(child.stdout.toString())
    assert.equal(ownerAlive({[LABELS.ownerPid]: String(deadPid)}), false)
    assert.equal(ownerAlive({[LABELS.ownerPid]: 'not-a-pid'}), false)
    assert.equal(ownerAlive({}), false)
    const started = processStartTicks(process.pid)
    assert.ok(started !== null, 'this machine has /proc')
    assert.equal(ownerAlive({[LABELS.ownerPid]: String(process.pid), [LABELS.ownerStarted]: String(Number(started) + 1)}), false, 'same pid, another process')
  })
})

describe('checks before anything starts', () => {
  const project = parseProject('- name: iris\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n', '/tmp/mlserve-unit/mlserve.yaml')

  /** An engine that answers, has no containers, and holds these images (a stand-in: the integration tests use a real one). */
  function engineWith(images: Array<{RepoTags: string[]; Created: number}>): Docker {
    const engine = {
      ping: async () => 'OK',
      listContainers: async () => [],
      listImages: async ({filters}: {filters: string}) => {
        const [repo] = (JSON.parse(filters) as {reference: string[]}).reference
        return images.filter((image) => image.RepoTags.some((tag) => tag.startsWith(`${repo}:`)))
      },
      getImage: (name: string) => ({
        inspect: async () => {
          if (images.some((image) => image.RepoTags.includes(name))) return {Id: name}
          throw Object.assign(new Error('no such image'), {statusCode: 404})
        },
      }),
    }
    return engine as unknown as Docker
  }
  const twoApis = parseProject(
    '- name: iris\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n- name: wine\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n',
    '/tmp/mlserve-unit/mlserve.yaml',
  )

  test('without --image each API runs the newest image tagged with its name, and says which', async () => {
    const lines: string[] = []
    const docker = engineWith([
      {RepoTags: ['iris:v1'], Created: 100},
      {RepoTags: ['iris:v2', 'iris:latest-build'], Created: 200},
      {RepoTags: ['iris-old:v9'], Created: 300},
      {RepoTags: ['wine:abc1234'], Created: 150},
    ])
    const driver = await planDocker(twoApis, {docker, apis: ['iris', 'wine'], log: (line) => lines.push(line)})
    assert.equal(driver.images.iris, 'iris:v2')
    assert.equal(driver.images.wine, 'wine:abc1234')
    assert.ok(lines.some((line) => /API iris runs image iris:v2, its newest build/.test(line)), lines.join('\n'))
  })

  test('--image gives every API that one image', async () => {
    const driver = await planDocker(twoApis, {docker: engineWith([{RepoTags: ['shared:1'], Created: 1}]), apis: ['iris', 'wine'], image: 'shared:1', log: () => undefined})
    assert.deepEqual(Object.values(driver.images), ['shared:1', 'shared:1'])
  })

  test('an API with no image built and no --image is MLS_DOCKER_NO_BUILT_IMAGE, suggesting mlserve build', async () => {
    await assert.rejects(planDocker(twoApis, {docker: engineWith([{RepoTags: ['iris:v1'], Created: 1}]), apis: ['iris', 'wine'], log: () => undefined}), (error: MlserveError) => {
      assert.equal(error.code, 'MLS_DOCKER_NO_BUILT_IMAGE')
      assert.match(error.message, /no image of API "wine"/)
      assert.match(error.suggestion, /mlserve build --api wine/)
      assert.equal(error.exitCode, 2)
      return true
    })
  })

  test('an engine that does not answer is MLS_DOCKER_UNAVAILABLE, saying how to start dockerd', async () => {
    const saved = process.env.DOCKER_HOST
    process.env.DOCKER_HOST = 'unix:///nonexistent/mlserve-test-docker.sock'
    try {
      await assert.rejects(pingDocker(new Docker()), (error: MlserveError) => {
        assert.equal(error.code, 'MLS_DOCKER_UNAVAILABLE')
        assert.match(error.message, /unix:\/\/\/nonexistent\/mlserve-test-docker\.sock is not reachable: nothing is listening there \(ENOENT\)/)
        assert.match(error.suggestion, /dockerd/)
        return true
      })
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST
      else process.env.DOCKER_HOST = saved
    }
  })
})
