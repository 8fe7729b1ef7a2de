// The docker driver end to end: real containers from a test image built FROM
// the local base image, behind the real gateway. These tests need a Docker
// engine and never skip: they fail, saying how to start one, without it.
import {describe, test, before, after, afterEach} from 'node:test'
import assert from 'node:assert/strict'
import {once} from 'node:events'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {MlserveError} from '../../src/errors.js'
import {LABELS, sweepStaleContainers} from '../../src/docker/index.js'
import {DockerReplica} from '../../src/runtime/docker-replica.js'
import {planRuntime, type PlanOptions} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {cliPath, runCli, startRunCli} from '../helpers/cli.js'
import {baseImage, buildTestImage, containersCreatedSince, containersOf, docker, removeContainersOf, removeImage, requireDocker} from '../helpers/docker.js'
import {apiYaml, makeProject, sleepPredictor, type ApiShape, type TestProject} from '../helpers/projects.js'
import {post, waitFor} from '../helpers/http.js'
import {countByApi, fire, splitYaml} from '../helpers/traffic.js'

const brokenPredictor = 'import mlserve_module_that_does_not_exist  # noqa: F401\n\n\nclass PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        return payload\n'
const slowPredictor = 'import time\n\n\nclass PythonPredictor:\n    def __init__(self, config):\n        time.sleep(600)\n\n    def predict(self, payload):\n        return payload\n'
const crashPredictor = 'import os\n\n\nclass PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        if payload.get("crash"):\n            os._exit(1)\n        return {"pid": os.getpid()}\n'
const files = {'predictor.py': sleepPredictor, 'broken.py': brokenPredictor, 'slow.py': slowPredictor, 'crash.py': crashPredictor}

let image = ''
const projects: TestProject[] = []
const runtimes: Runtime[] = []
const children: ResultPromise[] = []
const otherContainers: string[] = []
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const cliEnv = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}
const childPids: number[] = []

before(async () => {
  await requireDocker()
  image = await buildTestImage(files, 'driver')
})

after(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL')
    await child.catch(() => undefined)
  }
  for (const pid of [process.pid, ...childPids]) await removeContainersOf(pid)
  for (const id of otherContainers) await docker.getContainer(id).remove({force: true}).catch(() => undefined)
  if (image) await removeImage(image)
  projects.forEach((p) => p.cleanup())
  rmSync(stateDir, {recursive: true, force: true})
})

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop({drain: false})))
})

const logs: string[] = []

function project(shape: ApiShape = {}, predictor = 'predictor.py'): TestProject {
  const yaml = apiYaml(shape).replace('path: predictor.py', `path: ${predictor}`)
  const p = makeProject({'mlserve.yaml': yaml, [predictor]: files[predictor as keyof typeof files]})
  projects.push(p)
  return p
}

async function start(p: TestProject, options: Partial<PlanOptions> = {}): Promise<Runtime> {
  const runtime = await Runtime.start(await planRuntime(await loadProject(p.dir), {
    ...runtimeDefaults,
    port: 0,
    accessLog: false,
    announce: false,
    driver: 'docker',
    image,
    ...options,
  }), {log: (line) => logs.push(line)})
  runtimes.push(runtime)
  return runtime
}

async function exists(id: string): Promise<boolean> {
  try {
    await docker.getContainer(id).inspect()
    return true
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) return false
    throw error
  }
}

describe('docker driver: serving', () => {
  test('a 1×2 replica serves predictions through the gateway from a container on a loopback port, with compute.cpu and compute.mem as limits', async () => {
    const runtime = await start(project({processes: 1, threads: 2, extra: '  compute:\n    cpu: 500m\n    mem: 256Mi\n'}))
    const answer = await post(runtime.endpointUrl('sleepy'), {})
    assert.equal(answer.status, 200)
    assert.equal(typeof answer.body.pid, 'number')

    const [replica] = runtime.status().apis[0].replicas
    assert.equal(replica.ready, true)
    assert.match(replica.origin ?? '', /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(replica.slots, 2)
    assert.ok(replica.container, 'status names the container')

    const [listed] = await containersOf(process.pid)
    assert.ok(listed, 'the container carries our labels')
    assert.equal(listed.Id.slice(0, 12), replica.container)
    const info = await docker.getContainer(listed.Id).inspect()
    assert.equal(info.HostConfig.NanoCpus, 500_000_000)
    assert.equal(info.HostConfig.Memory, 268_435_456)
    assert.equal(info.Config.Labels[LABELS.managed], 'true')
    assert.equal(info.Config.Labels[LABELS.ownerPid], String(process.pid))
    assert.equal(info.Config.Labels[LABELS.api], 'sleepy')
    assert.equal(info.Config.Labels[LABELS.replica], '0')
    assert.equal(info.Config.Image, image)
    const binding = info.NetworkSettings.Ports['8080/tcp'][0]
    assert.equal(binding.HostIp, '127.0.0.1')
    assert.equal(replica.origin, `http://127.0.0.1:${binding.HostPort}`)
    assert.ok(logs.some((line) => line.startsWith('[sleepy-0] [mlserve] api=sleepy ready on')), 'container logs are streamed with the replica prefix')
  })

  test('the load-shedding scenario through a container: 1×2, max_replica_concurrency 4, 2 s predictor; 4 requests then 5 more: 5 × 503 at once, 4 × 200', async () => {
    const runtime = await start(project({processes: 1, threads: 2, maxReplicaConcurrency: 4, config: {sleep: 2}}))
    const url = runtime.endpointUrl('sleepy')
    const first = Array.from({length: 4}, () => post(url, {}))
    await waitFor(() => {
      const [replica] = runtime.status().apis[0].replicas
      return replica.running === 2 && replica.queued === 2
    }, '2 running and 2 queued')
    const more = await Promise.all(Array.from({length: 5}, () => post(url, {})))
    const shedDone = performance.now()
    for (const answer of more) {
      assert.equal(answer.status, 503)
      assert.equal(answer.headers['retry-after'], '1')
      assert.equal(answer.body.max_replica_concurrency, 4)
    }
    const firstAnswers = await Promise.all(first)
    assert.deepEqual(firstAnswers.map((a) => a.status), [200, 200, 200, 200])
    assert.ok(firstAnswers.every((a) => a.at > shedDone), 'the 503s arrived while the first four were still running')
    // 2 threads in one container: two at a time, in two waves.
    const starts = firstAnswers.map((a) => a.body.start as number).sort((a, b) => a - b)
    assert.ok(starts[2] - starts[0] >= 1.9, 'the third started only after a slot freed')
    assert.equal(runtime.status().apis[0].replicas[0].shed, 5)
  })
})

describe('docker driver: traffic policies', () => {
  test('a TrafficSplitter splits 70/30 between two APIs whose replicas are containers, and each answer names its API', async () => {
    const p = makeProject({
      'mlserve.yaml': splitYaml({apis: [{name: 'model-a', weight: 70, threads: 2, config: {}}, {name: 'model-b', weight: 30, threads: 2, config: {}}]}),
      'predictor.py': sleepPredictor,
    })
    projects.push(p)
    const runtime = await start(p)
    assert.ok(runtime.status().apis.every((api) => api.replicas.every((replica) => replica.container)), 'every replica is a container')
    const shots = await fire(`${runtime.url}/model`, 200, {concurrency: 4})
    assert.ok(shots.every((shot) => shot.status === 200))
    assert.deepEqual(countByApi(shots), {'model-a': 140, 'model-b': 60})
    // Session affinity works the same across containers: one key, one API, one container process.
    const keyed = await fire(`${runtime.url}/model`, 20, {concurrency: 4, headers: () => ({'x-shard-key': 'user-7'})})
    assert.equal(new Set(keyed.map((shot) => `${shot.api}/${shot.body.pid}`)).size, 1)
  })

  test('mlserve apply under docker: an added API starts as containers before it takes traffic, and a removed one is drained and its container removed', async () => {
    const shape = (name: string, weight?: number) => ({name, weight, threads: 2, config: {}})
    const p = makeProject({'mlserve.yaml': splitYaml({apis: [shape('model-a', 100)]}), 'predictor.py': sleepPredictor})
    projects.push(p)
    const options = {...runtimeDefaults, port: 0, accessLog: false, announce: false, driver: 'docker' as const, image}
    const runtime = await start(p)
    const before = new Set((await containersOf(process.pid)).map((c) => c.Id))

    writeFileSync(p.file, splitYaml({apis: [shape('model-a', 50), shape('model-b', 50)]}))
    const added = await runtime.apply(await planRuntime(await loadProject(p.dir), {...options, port: runtime.gateway.port}))
    assert.match(added.changes.join(' | '), /api model-b: added at \/model-b, 1 replica ready/)
    const shots = await fire(`${runtime.url}/model`, 40, {concurrency: 4})
    assert.ok(shots.every((shot) => shot.status === 200))
    assert.deepEqual(countByApi(shots), {'model-a': 20, 'model-b': 20})
    const bContainer = runtime.status().apis.find((api) => api.name === 'model-b')!.replicas[0].container
    assert.ok(bContainer, 'model-b runs in a container')
    assert.ok(!before.has((await containersOf(process.pid)).find((c) => c.Id.startsWith(bContainer!))!.Id))

    writeFileSync(p.file, splitYaml({apis: [shape('model-a', 100)]}))
    const removed = await runtime.apply(await planRuntime(await loadProject(p.dir), {...options, port: runtime.gateway.port}))
    assert.match(removed.changes.join(' | '), /api model-b: removed/)
    assert.equal((await post(`${runtime.url}/model-b`, {})).status, 404)
    await waitFor(async () => !(await containersOf(process.pid)).some((c) => c.Id.startsWith(bContainer!)), "model-b's container removed")
  })

  test('autoscaling under docker: a load step adds a container that takes traffic once ready; after the load it is drained and removed, with no failed request', async (t) => {
    // 1×2 threads of a 50 ms predictor, 2 in flight wanted per replica, up at once, down after 10 s of agreement.
    const scaling = '    max_replicas: 2\n    target_replica_concurrency: 2\n    window: 10s\n    upscale_stabilization_period: 0s\n    downscale_stabilization_period: 10s\n'
    const runtime = await start(project({processes: 1, threads: 2, maxReplicaConcurrency: 8, config: {sleep: 0.05}, extra: scaling}))
    const url = runtime.endpointUrl('sleepy')
    assert.equal((await containersOf(process.pid)).length, 1)
    const codes = new Map<string, number>()
    let phase = 'step'
    let running = true
    const loop = async (): Promise<void> => {
      while (running) {
        const status = await post(url, {}).then((answer) => answer.status, () => 0)
        const key = `${phase} ${status}`
        codes.set(key, (codes.get(key) ?? 0) + 1)
        if (status === 503) await new Promise((resolve) => setTimeout(resolve, 25))
      }
    }
    // 10 clients hold about 8 in flight on one replica: 8 / 2 asks for more.
    const clients = Array.from({length: 10}, loop)
    const api = () => runtime.status().apis[0]
    await waitFor(() => api().replicas.filter((replica) => replica.ready).length === 2, '2 ready replicas', 120_000)
    const ids = api().replicas.map((replica) => replica.container)
    assert.equal((await containersOf(process.pid)).length, 2)
    assert.match(api().autoscaler!.reason, /^in-flight [\d.]+ over \d+ s \/ target 2 → \d+/)
    // Down to 2 clients (about 2 in flight: one replica's worth); the scale-down must fail none of theirs.
    phase = 'after'
    running = false
    await Promise.all(clients)
    running = true
    const light = [loop(), loop()]
    await waitFor(() => api().replicas.length === 1, 'back to 1 replica', 180_000)
    running = false
    await Promise.all(light)
    t.diagnostic(JSON.stringify(Object.fromEntries(codes)))
    assert.deepEqual([...codes.keys()].filter((key) => !['step 200', 'step 503', 'after 200'].includes(key)), [], 'only 503 sheds at the step, none after')
    const gone = ids.find((id) => id !== api().replicas[0].container)!
    await waitFor(async () => !(await containersOf(process.pid)).some((c) => c.Id.startsWith(gone)), 'the retired container removed', 60_000)
    assert.equal((await containersOf(process.pid)).length, 1)
  })
})

describe('docker driver: lifecycle and cleanup', () => {
  test('stop removes every container; none with our label and pid remains', async () => {
    const runtime = await start(project({minReplicas: 2}))
    assert.equal((await containersOf(process.pid)).length, 2)
    await runtime.stop()
    assert.deepEqual(await containersOf(process.pid), [])
    await runtime.stop() // idempotent
    await Promise.all(runtime.replicas.map((replica) => replica.stop()))
  })

  test('a container killed from outside is taken out of routing, removed, and replaced with a new one that serves', async () => {
    const runtime = await start(project())
    const replica = runtime.replicas[0] as DockerReplica
    const before = runtime.status().apis[0].replicas[0]
    const oldId = replica.containerId!
    const unready = once(replica, 'unready')
    await docker.getContainer(oldId).kill()
    assert.deepEqual(await unready, ['exited'], 'taken out of routing')
    await waitFor(() => runtime.status().apis[0].replicas[0].restarts === 1, 'a restart')
    await waitFor(() => runtime.status().apis[0].replicas[0].ready, 'the replica to be ready again')
    const answer = await post(runtime.endpointUrl('sleepy'), {})
    assert.equal(answer.status, 200)
    assert.equal(await exists(oldId), false, 'the killed container was removed')
    const after = runtime.status().apis[0].replicas[0]
    assert.notEqual(after.container, before.container)
    const live = await containersOf(process.pid)
    assert.deepEqual(live.map((c) => c.Id), [replica.containerId])
    assert.ok(logs.some((line) => /\[sleepy-0\] container [0-9a-f]{12} exited \(exit code 137: killed\) and was removed; a new container follows; restarting in 1s \(restart 1\)/.test(line)))
  })

  test('a worker process the harness restarts inside the container counts in the replica\'s restarts', async () => {
    const runtime = await start(project({processes: 2, threads: 1}, 'crash.py'))
    const before = runtime.status().apis[0].replicas[0]
    assert.deepEqual([before.restarts, before.workerRestarts], [0, 0])
    await post(runtime.endpointUrl('sleepy'), {crash: true}).catch(() => undefined)
    await waitFor(() => runtime.status().apis[0].replicas[0].workerRestarts === 1, 'a worker restart')
    const after = runtime.status().apis[0].replicas[0]
    assert.equal(after.restarts, 1)
    assert.equal(after.container, before.container, 'the same container: only a worker was restarted')
    await waitFor(() => runtime.status().apis[0].replicas[0].slots === 2, 'both workers back')
    assert.equal((await post(runtime.endpointUrl('sleepy'), {})).status, 200)
    assert.ok(!logs.some((line) => line.includes('@mlserve-event')), 'events are not logged as lines')
  })

  test('a predictor that fails to import fails fast with the traceback, and leaves no container', async () => {
    const since = Date.now()
    const started = Date.now()
    await assert.rejects(start(project({}, 'broken.py')), (error: MlserveError) => {
      assert.equal(error.code, 'MLS_REPLICA_START_FAILED')
      assert.match(error.message, /API "sleepy" replica 0 failed to start: ModuleNotFoundError: No module named 'mlserve_module_that_does_not_exist'/)
      const details = error.details.join('\n')
      assert.match(details, /Traceback \(most recent call last\)/)
      assert.match(details, /\/app\/broken\.py/)
      return true
    })
    assert.ok(Date.now() - started < 20_000, 'it failed fast, not at the readiness timeout')
    assert.equal((await containersCreatedSince(since, process.pid)).length, 1, 'one container was tried')
    assert.deepEqual(await containersOf(process.pid), [])
  })

  test('when one API fails to start, the containers of the others are stopped and removed too', async () => {
    const yaml = apiYaml({name: 'good', minReplicas: 2}) + apiYaml({name: 'bad'}).replace('path: predictor.py', 'path: broken.py')
    const p = makeProject({'mlserve.yaml': yaml, 'predictor.py': sleepPredictor, 'broken.py': brokenPredictor})
    projects.push(p)
    await assert.rejects(start(p), (error: MlserveError) => error.code === 'MLS_REPLICA_START_FAILED' && /"bad"/.test(error.message))
    assert.deepEqual(await containersOf(process.pid), [])
  })

  test('a replica not ready within the readiness timeout is MLS_READINESS_TIMEOUT, and its container is removed', async () => {
    await assert.rejects(start(project({}, 'slow.py'), {readinessTimeoutMs: 2_000}), (error: MlserveError) => {
      assert.equal(error.code, 'MLS_READINESS_TIMEOUT')
      assert.match(error.message, /did not become ready within 2s/)
      return true
    })
    assert.deepEqual(await containersOf(process.pid), [])
  })
})

describe('docker driver: checks before anything starts', () => {
  test('compute.gpu on an engine without an NVIDIA runtime is MLS_DOCKER_NO_GPU_RUNTIME, and no container is created', async () => {
    const info = (await docker.info()) as {Runtimes?: Record<string, unknown>}
    assert.ok(!('nvidia' in (info.Runtimes ?? {})), 'this test expects an engine without the nvidia runtime')
    const since = Date.now()
    await assert.rejects(start(project({extra: '  compute:\n    gpu: 1\n'})), (error: MlserveError) => {
      assert.equal(error.code, 'MLS_DOCKER_NO_GPU_RUNTIME')
      assert.match(error.message, /API "sleepy" asks for GPUs \(compute\.gpu\)/)
      assert.match(error.message, /no nvidia runtime/)
      assert.match(error.suggestion, /NVIDIA Container Toolkit/)
      assert.equal(error.exitCode, 2)
      return true
    })
    assert.deepEqual(await containersCreatedSince(since, process.pid), [], 'no container was ever created')
  })

  test('an image the engine lacks is MLS_DOCKER_IMAGE_NOT_FOUND, suggesting mlserve build', async () => {
    await assert.rejects(start(project(), {image: 'mlserve-no-such-image:0.0.0'}), (error: MlserveError) => {
      assert.equal(error.code, 'MLS_DOCKER_IMAGE_NOT_FOUND')
      assert.match(error.message, /mlserve-no-such-image:0\.0\.0/)
      assert.match(error.suggestion, /mlserve build/)
      return true
    })
  })

  test('sweepStaleContainers removes containers of dead mlserve processes only, with a log line', async () => {
    const dead = await execa(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
    const deadPid = Number(dead.stdout)
    const make = async (labels: Record<string, string>): Promise<string> => {
      const container = await docker.createContainer({Image: baseImage, Cmd: ['true'], Labels: {[LABELS.managed]: 'true', ...labels}})
      otherContainers.push(container.id)
      return container.id
    }
    const stale = await make({[LABELS.ownerPid]: String(deadPid)})
    const mine = await make({[LABELS.ownerPid]: String(process.pid)})
    const otherHost = await make({[LABELS.ownerPid]: String(deadPid), [LABELS.ownerHost]: 'some-other-machine'})
    const handRun = await make({})
    const lines: string[] = []
    const removed = await sweepStaleContainers(docker, {log: (line) => lines.push(line)})
    assert.equal(await exists(stale), false)
    assert.equal(await exists(mine), true, 'a live owner’s container is left alone')
    assert.equal(await exists(otherHost), true, 'another machine’s container is left alone')
    assert.equal(await exists(handRun), true, 'a container without an owner (the label baked into an image, say) is left alone')
    assert.ok(removed.length >= 1)
    assert.match(lines.join('\n'), new RegExp(`Removed \\d+ stale container\\(s\\) left by mlserve process\\(es\\) no longer running \\(pid [^)]*\\b${deadPid}\\b`))
  })
})

describe('docker driver: the CLI', () => {
  const dockerProject = (): TestProject => project({processes: 1, threads: 1})

  async function startRun(p: TestProject): Promise<{child: ResultPromise; url: string; stderr: () => string}> {
    const run = await startRunCli([p.dir, '--driver', 'docker', '--image', image, '--port', '0'], cliEnv, (child) => {
      children.push(child)
      if (child.pid) childPids.push(child.pid)
    })
    return run
  }

  test('mlserve run --driver docker --image TAG serves; SIGINT exits 0 and leaves no container', async () => {
    const run = await startRun(dockerProject())
    const answer = await request(`${run.url}/sleepy`, {method: 'POST', body: '{}', headers: {'content-type': 'application/json'}})
    assert.equal(answer.statusCode, 200)
    await answer.body.dump()
    const status = (await (await request(`${run.url}/status`)).body.json()) as any
    assert.match(status.apis[0].replicas[0].origin, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal((await containersOf(run.child.pid!)).length, 1)
    run.child.kill('SIGINT')
    const result = await run.child
    assert.equal(result.exitCode, 0, run.stderr())
    assert.deepEqual(await containersOf(run.child.pid!), [])
  })

  test('after mlserve is SIGKILLed, the next mlserve run --driver docker removes its containers first, with a log line', async () => {
    const killed = await startRun(dockerProject())
    const killedPid = killed.child.pid!
    assert.equal((await containersOf(killedPid)).length, 1)
    killed.child.kill('SIGKILL')
    await killed.child
    // The container outlives a SIGKILLed mlserve (it only stops, on end of file on its standard input).
    assert.equal((await containersOf(killedPid)).length, 1)

    const next = await startRun(dockerProject())
    assert.match(next.stderr(), new RegExp(`Removed \\d+ stale container\\(s\\) left by mlserve process\\(es\\) no longer running \\(pid [^)]*\\b${killedPid}\\b`))
    assert.deepEqual(await containersOf(killedPid), [])
    next.child.kill('SIGINT')
    assert.equal((await next.child).exitCode, 0, next.stderr())
    assert.deepEqual(await containersOf(next.child.pid!), [])
  })

  test('without --image the API runs its newest build; with none it is MLS_DOCKER_NO_BUILT_IMAGE; an unreachable engine is MLS_DOCKER_UNAVAILABLE', async () => {
    const p = dockerProject()
    const missing = await runCli(['run', p.dir, '--driver', 'docker', '--port', '0'], {env: cliEnv})
    assert.equal(missing.exitCode, 2)
    assert.match(missing.stderr, /MLS_DOCKER_NO_BUILT_IMAGE\] The Docker engine has no image of API "sleepy"/)
    assert.match(missing.stderr, /mlserve build --api sleepy/)

    // What `mlserve build` would have made: the API's name, tagged with a version.
    const [repo, tag] = [`sleepy`, `mlserve-test-${process.pid}`]
    await docker.getImage(image).tag({repo, tag})
    try {
      const run = await startRunCli([p.dir, '--driver', 'docker', '--port', '0'], cliEnv, (child) => {
        children.push(child)
        if (child.pid) childPids.push(child.pid)
      })
      assert.match(run.stderr(), new RegExp(`API sleepy runs image sleepy:${tag}, its newest build`))
      const answer = await request(`${run.url}/sleepy`, {method: 'POST', body: '{}', headers: {'content-type': 'application/json'}})
      assert.equal(answer.statusCode, 200)
      await answer.body.dump()
      run.child.kill('SIGINT')
      assert.equal((await run.child).exitCode, 0, run.stderr())
    } finally {
      await docker.getImage(`${repo}:${tag}`).remove({noprune: true}).catch(() => undefined)
    }

    const unreachable = await runCli(['run', p.dir, '--driver', 'docker', '--image', image, '--port', '0'], {
      env: {...cliEnv, DOCKER_HOST: 'unix:///nonexistent/mlserve-test-docker.sock'},
    })
    assert.equal(unreachable.exitCode, 1)
    assert.match(unreachable.stderr, /MLS_DOCKER_UNAVAILABLE\] The Docker engine at unix:\/\/\/nonexistent\/mlserve-test-docker\.sock is not reachable/)
    assert.match(unreachable.stderr, /dockerd/)
    assert.doesNotMatch(unreachable.stderr, /\n\s+at .*\.js:\d+/, 'no JavaScript stack trace')
  })
})
