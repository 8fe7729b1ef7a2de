// The Swarm objects a deploy creates, field by field, from a project with a
// python API (GPU, batching, predictor config), a command API and a
// TrafficSplitter: the pure mapping of src/swarm/spec.ts, no engine.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {parseProject, type Project} from '../../src/config/index.js'
import type {RuntimePlan} from '../../src/runtime/index.js'
import {gatewayPlanFor} from '../../src/swarm/deploy.js'
import {containerEnv, HARNESS_IN_IMAGE} from '../../src/runtime/harness/index.js'
import {
  apiHealthCheck,
  autoscalerSettings,
  contentHash,
  DEPLOY_LABELS,
  gatewayPlanDocument,
  projectName,
  remoteDiscovery,
  serviceReplicas,
  specHash,
  swarmObjects,
  taskPlacement,
  taskResources,
  withReferenceIds,
  type SwarmObjects,
  type SwarmSpecInput,
} from '../../src/swarm/spec.js'

const CONFIG = `
- name: shop-a
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config: {threshold: 0.7}
    env: {MODEL_FLAVOUR: small}
    processes_per_replica: 2
    threads_per_process: 3
    server_side_batching: {max_batch_size: 3, batch_interval: 50ms}
  compute: {cpu: 500m, mem: 256Mi, gpu: 1}
  autoscaling: {min_replicas: 1, max_replicas: 3, init_replicas: 2, max_replica_concurrency: 12, target_replica_concurrency: 4}
  networking: {endpoint: /shop-a}
- name: shop-b
  kind: RealtimeAPI
  predictor:
    type: command
    command: python3 -m http.server $PORT
    readiness_path: /ready
  compute: {cpu: 1}
  autoscaling: {min_replicas: 2, max_replicas: 2}
  networking: {endpoint: /shop-b}
- name: shop
  kind: TrafficSplitter
  apis:
    - {name: shop-a, weight: 80}
    - {name: shop-b, weight: 20}
  networking: {endpoint: /shop}
`

const project: Project = parseProject(CONFIG, '/srv/My Shop_v2/mlserve.yaml')
const environment = {name: 'prod', gatewayPort: 9123, spotLabel: {key: 'lifecycle', value: 'spot'}}

function gatewayPlan(p: Project = project): Promise<RuntimePlan> {
  return gatewayPlanFor(p, environment)
}

async function objects(overrides: Partial<SwarmSpecInput> = {}): Promise<SwarmObjects> {
  return swarmObjects({
    project,
    environment,
    plan: await gatewayPlan(),
    images: {apis: {'shop-a': '127.0.0.1:5000/shop-a@sha256:' + 'a'.repeat(64), 'shop-b': 'sha256:' + 'b'.repeat(64)}, gateway: 'mlserve-gateway:0.1.0-abc'},
    token: 'secret-token',
    placement: 'spot',
    ...overrides,
  })
}

const byName = (o: SwarmObjects, name: string) => {
  const service = o.services.find((s) => s.name === name)
  assert.ok(service, `no service ${name} among ${o.services.map((s) => s.name).join(', ')}`)
  return service
}

describe('swarm spec: names and labels', () => {
  test('the project is its directory name as a DNS label; services are mlserve-<project>-<api>, -gateway, -autoscaler', async () => {
    assert.equal(projectName(project), 'my-shop-v2')
    assert.equal(projectName({dir: '/x/___'}), 'project')
    assert.equal(projectName({dir: '/x/' + 'a'.repeat(40)}), 'a'.repeat(24))
    const o = await objects()
    assert.deepEqual(
      o.services.map((s) => [s.role, s.name, s.api]),
      [
        ['api', 'mlserve-my-shop-v2-shop-a', 'shop-a'],
        ['api', 'mlserve-my-shop-v2-shop-b', 'shop-b'],
        ['gateway', 'mlserve-my-shop-v2-gateway', null],
        ['autoscaler', 'mlserve-my-shop-v2-autoscaler', null],
      ],
    )
    assert.equal(o.network.Name, 'mlserve-my-shop-v2')
  })

  test('every object carries the project and environment labels (API services and their containers the API too)', async () => {
    const o = await objects()
    const deploy = {[DEPLOY_LABELS.project]: 'my-shop-v2', [DEPLOY_LABELS.env]: 'prod'}
    const has = (labels: Record<string, string> | undefined, what: string) => {
      for (const [k, v] of Object.entries(deploy)) assert.equal(labels?.[k], v, `${what} lacks ${k}=${v}`)
    }
    has(o.network.Labels, 'the network')
    has(o.secret.Labels, 'the secret')
    has(o.configs.plan.Labels, 'the plan config')
    has(o.configs.autoscaler?.Labels, 'the autoscaler config')
    for (const s of o.services) {
      has(s.spec.Labels, s.name)
      has(s.spec.TaskTemplate.ContainerSpec?.Labels, `${s.name}'s containers`)
      assert.equal(s.spec.Labels?.[DEPLOY_LABELS.role], s.role)
    }
    assert.equal(byName(o, 'mlserve-my-shop-v2-shop-a').spec.Labels?.[DEPLOY_LABELS.api], 'shop-a')
    assert.equal(o.network.Driver, 'overlay')
    assert.equal(o.network.Attachable, true)
    for (const s of o.services) assert.deepEqual(s.spec.TaskTemplate.Networks, [{Target: 'mlserve-my-shop-v2'}])
  })

  test('configs and secrets are named by a hash of their content, which they hold in base64', async () => {
    const o = await objects()
    assert.equal(o.secret.Name, `mlserve-my-shop-v2-token-${contentHash('secret-token')}`)
    assert.equal(Buffer.from(o.secret.Data, 'base64').toString(), 'secret-token')
    const plan = Buffer.from(o.configs.plan.Data, 'base64').toString()
    assert.equal(o.configs.plan.Name, `mlserve-my-shop-v2-plan-${contentHash(plan)}`)
    const other = await objects({token: 'another'})
    assert.notEqual(other.secret.Name, o.secret.Name)
    assert.equal(other.configs.plan.Name, o.configs.plan.Name, 'the plan does not hold the token')
  })
})

describe('swarm spec: an API service', () => {
  test('runs the image it is given (a pinned digest or a local id), with the replica environment of the plan', async () => {
    const plan = await gatewayPlan()
    const o = await objects()
    const a = byName(o, 'mlserve-my-shop-v2-shop-a').spec
    assert.equal(a.TaskTemplate.ContainerSpec?.Image, '127.0.0.1:5000/shop-a@sha256:' + 'a'.repeat(64))
    assert.equal(byName(o, 'mlserve-my-shop-v2-shop-b').spec.TaskTemplate.ContainerSpec?.Image, 'sha256:' + 'b'.repeat(64))
    const expected = {...containerEnv(plan.apis[0].replicas[0]), MLSERVE_STOP_DELAY_S: '3'}
    assert.deepEqual(a.TaskTemplate.ContainerSpec?.Env, Object.entries(expected).map(([k, v]) => `${k}=${v}`))
    const env = Object.fromEntries((a.TaskTemplate.ContainerSpec?.Env ?? []).map((line) => line.split(/=(.*)/s).slice(0, 2)))
    assert.equal(env.MLSERVE_PROCESSES, '2')
    assert.equal(env.MLSERVE_THREADS, '3')
    assert.equal(env.MLSERVE_BATCH_MAX_SIZE, '3')
    assert.equal(env.MLSERVE_BATCH_INTERVAL_MS, '50')
    assert.equal(env.MLSERVE_CONFIG_JSON, '{"threshold":0.7}')
    assert.equal(env.MODEL_FLAVOUR, 'small')
    assert.equal(env.MLSERVE_PORT, '8080')
    assert.equal(env.MLSERVE_PREDICTOR, 'predictor.py')
  })

  test('compute.cpu and compute.mem are both limits and reservations; compute.gpu a generic resource NVIDIA-GPU', async () => {
    const o = await objects()
    assert.deepEqual(byName(o, 'mlserve-my-shop-v2-shop-a').spec.TaskTemplate.Resources, {
      Limits: {NanoCPUs: 500_000_000, MemoryBytes: 256 * 1024 * 1024},
      Reservations: {NanoCPUs: 500_000_000, MemoryBytes: 256 * 1024 * 1024, GenericResources: [{DiscreteResourceSpec: {Kind: 'NVIDIA-GPU', Value: 1}}]},
    })
    assert.deepEqual(byName(o, 'mlserve-my-shop-v2-shop-b').spec.TaskTemplate.Resources, {Limits: {NanoCPUs: 1_000_000_000}, Reservations: {NanoCPUs: 1_000_000_000}})
    assert.deepEqual(taskResources({cpu: null, mem: null, gpu: 0}), {Limits: {}, Reservations: {}})
  })

  test("the health check is the harness's status file for python, GET on readiness_path for a command, the image's own for a Dockerfile of the user's", async () => {
    const o = await objects()
    const a = byName(o, 'mlserve-my-shop-v2-shop-a').spec.TaskTemplate.ContainerSpec?.HealthCheck
    assert.deepEqual(a?.Test, ['CMD', 'python3', HARNESS_IN_IMAGE, 'check'])
    assert.equal(a?.Interval, 3_000_000_000)
    assert.equal(a?.Timeout, 5_000_000_000)
    assert.equal(a?.Retries, 3)
    assert.equal(a?.StartPeriod, 120_000_000_000)
    const b = byName(o, 'mlserve-my-shop-v2-shop-b').spec.TaskTemplate.ContainerSpec?.HealthCheck
    assert.equal(b?.Test?.[0], 'CMD')
    assert.match(b?.Test?.[3] ?? '', /urllib\.request\.urlopen\("http:\/\/127\.0\.0\.1:%s\/ready" % os\.environ\.get\("PORT", "8080"\)/)
    const own = parseProject('name: x\nkind: RealtimeAPI\npredictor: {type: python, path: p.py}\nbuild: {dockerfile: Dockerfile}\n', '/p/mlserve.yaml').apis[0]
    const check = apiHealthCheck(own as never, {healthStartPeriodMs: 10_000, healthIntervalMs: 1_000, monitorMs: 5_000, stopGracePeriodMs: 1_000})
    assert.equal(check.Test, undefined, 'an absent Test inherits the image HEALTHCHECK')
    assert.equal(check.StartPeriod, 10_000_000_000)
    assert.equal(check.Interval, 1_000_000_000)
  })

  test('rolling updates start the new task first, one at a time, monitored, and roll back on failure; tasks restart on any exit', async () => {
    const a = byName(await objects(), 'mlserve-my-shop-v2-shop-a').spec
    assert.deepEqual(a.UpdateConfig, {Parallelism: 1, Delay: 0, FailureAction: 'rollback', Monitor: 10_000_000_000, MaxFailureRatio: 0, Order: 'start-first'})
    assert.deepEqual(a.RollbackConfig, {Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 10_000_000_000, MaxFailureRatio: 0, Order: 'start-first'})
    assert.deepEqual(a.TaskTemplate.RestartPolicy, {Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0})
    // The drain's 30 s after the 3 s the task serves on (MLSERVE_STOP_DELAY_S) while the gateway stops routing to it.
    assert.equal(a.TaskTemplate.ContainerSpec?.StopGracePeriod, 33_000_000_000)
    assert.deepEqual(a.EndpointSpec, {Mode: 'dnsrr'})
  })

  test('replicas: init_replicas on a first deploy; on a redeploy what runs now, within min..max', async () => {
    const first = await objects()
    assert.deepEqual(byName(first, 'mlserve-my-shop-v2-shop-a').spec.Mode, {Replicated: {Replicas: 2}})
    assert.deepEqual(byName(first, 'mlserve-my-shop-v2-shop-b').spec.Mode, {Replicated: {Replicas: 2}})
    const again = await objects({currentReplicas: {'shop-a': 3, 'shop-b': 7}})
    assert.deepEqual(byName(again, 'mlserve-my-shop-v2-shop-a').spec.Mode, {Replicated: {Replicas: 3}})
    assert.deepEqual(byName(again, 'mlserve-my-shop-v2-shop-b').spec.Mode, {Replicated: {Replicas: 2}}, 'clamped to max_replicas')
    const a = (await gatewayPlan()).apis[0].autoscaling
    assert.equal(serviceReplicas(a, 0), 1, 'clamped to min_replicas')
    assert.equal(specHash(byName(again, 'mlserve-my-shop-v2-shop-a').spec), specHash(byName(first, 'mlserve-my-shop-v2-shop-a').spec), 'the replica count is not part of the spec hash')
  })

  test('spot: a constraint on the label and a spread over it; on-demand: every node without it; no label: no placement', async () => {
    assert.deepEqual(byName(await objects(), 'mlserve-my-shop-v2-shop-a').spec.TaskTemplate.Placement, {
      Constraints: ['node.labels.lifecycle==spot'],
      Preferences: [{Spread: {SpreadDescriptor: 'node.labels.lifecycle'}}],
    })
    const onDemand = byName(await objects({placement: 'on-demand'}), 'mlserve-my-shop-v2-shop-a').spec
    assert.deepEqual(onDemand.TaskTemplate.Placement, {Constraints: ['node.labels.lifecycle!=spot']})
    assert.equal(onDemand.Labels?.[DEPLOY_LABELS.placement], 'on-demand')
    const none = byName(await objects({environment: {...environment, spotLabel: null}}), 'mlserve-my-shop-v2-shop-a').spec
    assert.deepEqual(none.TaskTemplate.Placement, {})
    assert.equal(none.Labels?.[DEPLOY_LABELS.placement], 'any')
    assert.deepEqual(taskPlacement('spot', null), {})
  })
})

describe('swarm spec: the gateway and the autoscaler', () => {
  test('the gateway runs `gateway --plan --token-file` from its config and secret, published in host mode, dnsrr', async () => {
    const o = await objects()
    const g = byName(o, 'mlserve-my-shop-v2-gateway').spec
    const c = g.TaskTemplate.ContainerSpec!
    assert.equal(c.Image, 'mlserve-gateway:0.1.0-abc')
    assert.deepEqual(c.Args, ['gateway', '--plan', '/etc/mlserve/plan.json', '--token-file', '/run/secrets/mlserve-gateway-token'])
    assert.deepEqual(c.Configs, [{ConfigName: o.configs.plan.Name, ConfigID: '', File: {Name: '/etc/mlserve/plan.json', UID: '0', GID: '0', Mode: 0o444}}])
    assert.deepEqual(c.Secrets, [{SecretName: o.secret.Name, SecretID: '', File: {Name: 'mlserve-gateway-token', UID: '65534', GID: '65534', Mode: 0o400}}])
    assert.deepEqual(g.EndpointSpec, {Mode: 'dnsrr', Ports: [{Protocol: 'tcp', TargetPort: 9123, PublishedPort: 9123, PublishMode: 'host'}]})
    assert.deepEqual(g.Mode, {Replicated: {Replicas: 1}})
    assert.equal(g.UpdateConfig?.Order, 'stop-first', 'a host port is held by one task at a time')
    assert.equal(g.UpdateConfig?.FailureAction, 'rollback')
    assert.deepEqual(c.HealthCheck?.Test?.slice(0, 3), ['CMD', '/usr/local/bin/node', '-e'])
    assert.match(c.HealthCheck?.Test?.[3] ?? '', /http:\/\/127\.0\.0\.1:9123\/healthz/)
  })

  test("the gateway's plan: the remote driver, each API at tasks.<its service>:8080, on 0.0.0.0 and the environment's port", async () => {
    const o = await objects()
    const plan = JSON.parse(Buffer.from(o.configs.plan.Data, 'base64').toString()) as RuntimePlan
    assert.equal(plan.driver, 'remote')
    assert.deepEqual(plan.remote, {
      discovery: {kind: 'dns', services: {'shop-a': 'mlserve-my-shop-v2-shop-a', 'shop-b': 'mlserve-my-shop-v2-shop-b'}, port: 8080, intervalMs: 1000},
      control: 'token',
    })
    assert.equal(plan.gateway.host, '0.0.0.0')
    assert.equal(plan.gateway.port, 9123)
    assert.deepEqual(plan.splitters.map((s) => [s.name, s.apis]), [['shop', [{name: 'shop-a', weight: 80}, {name: 'shop-b', weight: 20}]]])
    assert.equal(plan.apis[0].maxReplicaConcurrency, 12)
  })

  test('a code change leaves the plan, so the gateway, as it was; an API with a cache gets a new plan', async () => {
    const plan = await gatewayPlan()
    const edited = structuredClone(plan)
    edited.apis[0].version = 'another'
    edited.apis[0].replicas = edited.apis[0].replicas.map((r) => ({...r, codeVersion: 'changed'}))
    assert.equal(gatewayPlanDocument(edited), gatewayPlanDocument(plan))
    const cached = structuredClone(edited)
    cached.apis[0].cache = {maxEntries: 10, maxBytes: 1000, ttlMs: 1000} as never
    const cachedBefore = structuredClone(plan)
    cachedBefore.apis[0].cache = cached.apis[0].cache
    assert.notEqual(gatewayPlanDocument(cached), gatewayPlanDocument(cachedBefore))
  })

  test('the autoscaler watches the APIs that scale (min < max), from a manager, with the Docker socket, as root', async () => {
    const o = await objects()
    const settings = JSON.parse(Buffer.from(o.configs.autoscaler!.Data, 'base64').toString())
    assert.deepEqual(settings.gateway, {service: 'mlserve-my-shop-v2-gateway', port: 9123})
    assert.deepEqual(settings.apis.map((a: {api: string; service: string}) => [a.api, a.service]), [['shop-a', 'mlserve-my-shop-v2-shop-a']])
    assert.equal(settings.apis[0].autoscaling.targetReplicaConcurrency, 4)
    const s = byName(o, 'mlserve-my-shop-v2-autoscaler').spec
    const c = s.TaskTemplate.ContainerSpec!
    assert.deepEqual(c.Args, ['autoscaler', '--config', '/etc/mlserve/autoscaler.json'])
    assert.equal(c.User, '0:0')
    assert.deepEqual(c.Mounts, [{Type: 'bind', Source: '/var/run/docker.sock', Target: '/var/run/docker.sock'}])
    assert.deepEqual(s.TaskTemplate.Placement, {Constraints: ['node.role==manager']})
    assert.equal(c.Configs?.[0].ConfigName, o.configs.autoscaler!.Name)
  })

  test('no API scales: no autoscaler service and no config', async () => {
    const fixed = parseProject('name: one\nkind: RealtimeAPI\npredictor: {type: python, path: p.py}\nautoscaling: {min_replicas: 1, max_replicas: 1}\n', '/p/one/mlserve.yaml')
    const plan = await gatewayPlan(fixed)
    assert.equal(autoscalerSettings(plan, 'one', 8888), null)
    const o = swarmObjects({project: fixed, environment, plan, images: {apis: {one: 'one:1'}, gateway: 'g:1'}, token: 't', placement: 'any'})
    assert.equal(o.configs.autoscaler, null)
    assert.deepEqual(o.services.map((s) => s.role), ['api', 'gateway'])
  })

  test('withReferenceIds fills in the config and secret ids by name, and fails on one it does not know', async () => {
    const o = await objects()
    const g = byName(o, 'mlserve-my-shop-v2-gateway').spec
    const filled = withReferenceIds(g, {[o.configs.plan.Name]: 'cfg1', [o.secret.Name]: 'sec1'})
    assert.equal(filled.TaskTemplate.ContainerSpec?.Configs?.[0].ConfigID, 'cfg1')
    assert.equal(filled.TaskTemplate.ContainerSpec?.Secrets?.[0].SecretID, 'sec1')
    assert.throws(() => withReferenceIds(g, {}), /no id for mlserve-my-shop-v2-plan-/)
  })

  test('the spec hash changes with the spec and ignores its own label', async () => {
    const o = await objects()
    const a = byName(o, 'mlserve-my-shop-v2-shop-a').spec
    assert.equal(a.Labels?.[DEPLOY_LABELS.spec], specHash(a))
    const changed = {...a, TaskTemplate: {...a.TaskTemplate, ContainerSpec: {...a.TaskTemplate.ContainerSpec, Image: 'other'}}}
    assert.notEqual(specHash(changed), specHash(a))
  })
})
