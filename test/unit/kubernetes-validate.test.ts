// Offline validation catches wrong objects: a wrong field type, a missing
// required field, a value outside an enum, in Kubernetes' own kinds and in
// the KEDA and Gateway API kinds, each as MLS_K8S_INVALID naming the object
// and the path.
import {test, describe, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {Deployment} from 'kubernetes-models/apps/v1'
import {HTTPRoute} from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1'
import {ScaledObject} from '@kubernetes-models/keda/keda.sh/v1alpha1'
import {PodDisruptionBudget} from 'kubernetes-models/policy/v1'
import {isMlserveError, type MlserveError} from '../../src/errors.js'
import {kubernetesManifests, pathOf, validateManifest, validateManifests, type KubernetesManifest} from '../../src/kubernetes/index.js'
import {IMAGES, kubernetesEnvironment, sklearnSplitterProject, type SplitterProject} from '../helpers/kubernetes.js'

function invalid(run: () => void): MlserveError {
  let caught: unknown
  try {
    run()
  } catch (error) {
    caught = error
  }
  assert.ok(isMlserveError(caught), `expected MLS_K8S_INVALID, got ${String(caught)}`)
  assert.equal(caught.code, 'MLS_K8S_INVALID')
  return caught
}

/** One container, otherwise valid. */
function deployment(port: unknown): Deployment {
  return new Deployment({
    metadata: {name: 'iris'},
    spec: {
      selector: {matchLabels: {app: 'iris'}},
      template: {metadata: {labels: {app: 'iris'}}, spec: {containers: [{name: 'api', image: 'iris:1', ports: [{containerPort: port as number}]}]}},
    },
  })
}

describe('validateManifest', () => {
  test('a valid object passes', () => {
    validateManifest(deployment(8080))
  })

  test('a wrong field type in a Deployment: the object and the path', () => {
    const error = invalid(() => validateManifest(deployment('8080')))
    assert.equal(error.message, 'The Kubernetes object Deployment iris does not pass its schema: spec.template.spec.containers[0].ports[0].containerPort must be integer.')
    assert.deepEqual(error.details, ['spec.template.spec.containers[0].ports[0].containerPort: must be integer'])
  })

  test('a missing required field', () => {
    const broken = new Deployment({metadata: {name: 'iris'}, spec: {template: {spec: {containers: []}}}} as unknown as ConstructorParameters<typeof Deployment>[0])
    const error = invalid(() => validateManifest(broken))
    assert.match(error.message, /Deployment iris .*spec must have required property selector/)
  })

  test('a value outside an enum in a PodDisruptionBudget', () => {
    const pdb = new PodDisruptionBudget({metadata: {name: 'iris'}, spec: {maxUnavailable: 1, unhealthyPodEvictionPolicy: 'Sometimes' as 'AlwaysAllow'}})
    const error = invalid(() => validateManifest(pdb))
    assert.match(error.message, /PodDisruptionBudget iris .*spec\.unhealthyPodEvictionPolicy must be equal to one of the allowed values/)
  })

  test("KEDA's schema: a trigger's threshold must be a string", () => {
    const scaled = new ScaledObject({metadata: {name: 'iris'}, spec: {scaleTargetRef: {name: 'iris'}, triggers: [{type: 'prometheus', metadata: {threshold: 2 as unknown as string}}]}})
    const error = invalid(() => validateManifest(scaled))
    assert.match(error.message, /ScaledObject iris .*spec\.triggers\[0\]\.metadata\.threshold must be string/)
  })

  test("the Gateway API's schema: an unknown filter type and a weight that is not a number", () => {
    const route = new HTTPRoute({
      metadata: {name: 'iris-split'},
      spec: {rules: [{backendRefs: [{name: 'iris', port: 80, weight: 'eighty' as unknown as number}], filters: [{type: 'Mirror' as 'RequestMirror'}]}]},
    })
    const error = invalid(() => validateManifest(route))
    assert.match(error.message, /^The Kubernetes object HTTPRoute iris-split does not pass its schema: spec\.rules\[0\]\./)
    assert.ok(error.details.some((line) => line.startsWith('spec.rules[0].backendRefs[0].weight: must be integer')), error.details.join('\n'))
  })

  test('pathOf turns a JSON pointer into a field path', () => {
    assert.equal(pathOf('/spec/rules/0/backendRefs/1/weight'), 'spec.rules[0].backendRefs[1].weight')
    assert.equal(pathOf('/metadata/annotations/prometheus.io~1port'), 'metadata.annotations.prometheus.io/port')
    assert.equal(pathOf(''), '')
  })
})

describe('validateManifests over the generated objects', () => {
  let fixture: SplitterProject
  let objects: KubernetesManifest[]
  before(async () => {
    fixture = await sklearnSplitterProject()
    objects = await kubernetesManifests(fixture.project, kubernetesEnvironment(), IMAGES)
  })
  after(() => fixture?.cleanup())

  test('every generated object passes', () => {
    validateManifests(objects)
  })

  test('one generated object spoiled (a string replica count) is caught, named by kind and name', () => {
    const spoiled = objects.find((object) => object.kind === 'Deployment' && object.metadata?.name === 'iris-shadow') as Deployment
    spoiled.spec!.replicas = 'two' as unknown as number
    const error = invalid(() => validateManifests(objects))
    assert.equal(error.message, 'The Kubernetes object Deployment iris-shadow does not pass its schema: spec.replicas must be integer.')
  })
})
