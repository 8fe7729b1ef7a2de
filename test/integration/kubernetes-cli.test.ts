// `mlserve deploy` to a Kubernetes environment through the built CLI, as a
// user runs it: `env add --engine kubernetes`, then --dry-run --out DIR (one
// file per object), --dry-run to stdout (a multi-document stream that parses
// back), --json, and the apply through the official client against the
// stand-in API server (no live cluster). The environments live in a temp
// config directory, never the user's.
import {test, describe, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse, parseAllDocuments} from 'yaml'
import {runCli, type CliResult} from '../helpers/cli.js'
import {startKubeApiStandIn} from '../helpers/kube-apiserver.js'
import {sklearnSplitterProject, type SplitterProject} from '../helpers/kubernetes.js'

let fixture: SplitterProject
let config: string

function env(): Record<string, string> {
  return {MLSERVE_CONFIG_DIR: config, XDG_CONFIG_HOME: config, HOME: config, PATH: process.env.PATH ?? ''}
}

async function mlserve(args: string[]): Promise<CliResult> {
  const result = await runCli(args, {env: {NO_COLOR: '1', ...env()}, extendEnv: false})
  assert.ok(!result.stderr.includes('    at '), `stack trace in stderr:\n${result.stderr}`)
  return result
}

function ok(result: CliResult, what: string): void {
  assert.equal(result.exitCode, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`)
}

before(async () => {
  fixture = await sklearnSplitterProject({git: true})
  config = mkdtempSync(join(tmpdir(), 'mlserve-k8s-config-'))
  ok(await mlserve(['env', 'add', 'k8s', '--engine', 'kubernetes', '--registry', '127.0.0.1:5000', '--namespace', 'ml', '--spot-label', 'node.example.com/lifecycle=spot']), 'env add')
})
after(() => {
  fixture?.cleanup()
  if (config) rmSync(config, {recursive: true, force: true})
})

describe('mlserve deploy --env (kubernetes)', () => {
  test('--dry-run --out DIR writes the 15 validated objects, one file each, and lists them', async () => {
    const out = join(fixture.root, 'out')
    const result = await mlserve(['deploy', fixture.dir, '--env', 'k8s', '--dry-run', '--out', out])
    ok(result, 'deploy --dry-run --out')
    const files = readdirSync(out).sort()
    assert.equal(files.length, 15)
    assert.match(result.stderr, /15 Kubernetes objects for namespace ml, each valid against its schema/)
    assert.match(result.stderr, new RegExp(`HTTPRoute/iris-split → ${join(out, 'httproute-iris-split.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`))
    const deployment = parse(readFileSync(join(out, 'deployment-iris.yaml'), 'utf8')) as Record<string, any>
    assert.deepEqual(deployment.spec.template.spec.tolerations, [{key: 'node.example.com/lifecycle', operator: 'Equal', value: 'spot'}])
    assert.match(deployment.spec.template.spec.containers[0].image, /^127\.0\.0\.1:5000\/iris:/)
  })

  test('--dry-run without --out: the YAML on stdout, the notes on stderr', async () => {
    const result = await mlserve(['deploy', fixture.dir, '--env', 'k8s', '--dry-run'])
    ok(result, 'deploy --dry-run')
    const documents = parseAllDocuments(result.stdout).map((document) => document.toJS() as Record<string, any>)
    assert.equal(documents.length, 15)
    assert.deepEqual(documents.filter((document) => document.kind === 'HTTPRoute').map((route) => route.spec.rules[0].filters[0].type), ['RequestMirror'])
  })

  test('--json: the objects and the YAML as fields', async () => {
    const result = await mlserve(['deploy', fixture.dir, '--env', 'k8s', '--dry-run', '--json'])
    ok(result, 'deploy --dry-run --json')
    const json = JSON.parse(result.stdout) as {engine: string; applied: boolean; objects: Array<{kind: string; name: string}>; yaml: string}
    assert.equal(json.engine, 'kubernetes')
    assert.equal(json.applied, false)
    assert.equal(json.objects.length, 15)
    assert.equal(parseAllDocuments(json.yaml).length, 15)
  })

  test('without --dry-run: applied through the stand-in API server, a status per object', async () => {
    const standIn = await startKubeApiStandIn()
    try {
      const kubeconfig = standIn.kubeconfig(config)
      ok(await mlserve(['env', 'add', 'k8s-live', '--engine', 'kubernetes', '--registry', '127.0.0.1:5000', '--namespace', 'ml', '--kubeconfig', kubeconfig]), 'env add k8s-live')
      const result = await mlserve(['deploy', fixture.dir, '--env', 'k8s-live'])
      ok(result, 'deploy (apply)')
      assert.match(result.stderr, /Deployment\/iris: created/)
      assert.equal(standIn.patches.length, 30)
      assert.ok(standIn.patches.slice(0, 15).every((patch) => patch.dryRun === 'All'))
      assert.ok(standIn.patches.slice(15).every((patch) => patch.dryRun === null))
    } finally {
      await standIn.close()
    }
  })

  test('no kubeconfig: MLS_K8S_NO_KUBECONFIG, exit 2, with the way to a dry run', async () => {
    ok(await mlserve(['env', 'add', 'k8s-none', '--engine', 'kubernetes', '--kubeconfig', join(config, 'absent')]), 'env add k8s-none')
    const result = await mlserve(['deploy', fixture.dir, '--env', 'k8s-none'])
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /MLS_K8S_NO_KUBECONFIG/)
    assert.match(result.stderr, /--dry-run/)
  })

  test('deploy --status and delete are Swarm\'s: on a Kubernetes environment each says which kubectl command does it, exit 2', async () => {
    const status = await mlserve(['deploy', fixture.dir, '--env', 'k8s', '--status'])
    assert.equal(status.exitCode, 2, status.stderr)
    assert.match(status.stderr, /MLS_FLAG_CONFLICT/)
    assert.match(status.stderr, /kubectl get deploy,pods,scaledobjects,httproutes -n ml -l app\.kubernetes\.io\/managed-by=mlserve/)
    const removed = await mlserve(['delete', fixture.dir, '--env', 'k8s'])
    assert.equal(removed.exitCode, 2, removed.stderr)
    assert.match(removed.stderr, /kubectl delete -f/)
  })
})
