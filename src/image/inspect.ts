// `mlserve inspect IMAGE`: each layer with its size and the instruction that
// made it, the total size, and efficiency and wasted bytes (efficiency.ts),
// read from the image's own layer tars (`docker save`, through dockerode's
// getImage().get()). Only tar headers are read; file contents are skipped.
import {createGunzip} from 'node:zlib'
import {PassThrough, type Readable} from 'node:stream'
import type Docker from 'dockerode'
import * as tar from 'tar-stream'
import {lookupImage} from '../docker/index.js'
import {computeEfficiency, evaluateCi, normalizeLayerPath, type CiRuleResult, type CiThresholds, type InefficientPath, type LayerEntry} from './efficiency.js'

export interface LayerReport {
  /** 0-based, bottom layer first. */
  index: number
  /** The layer's DiffID (sha256 of its uncompressed tar), as in the image's RootFS. */
  digest: string
  /** Bytes of the files it holds (the sum of its tar entries' sizes), as dive counts a layer. */
  size: number
  /** Entries in its tar (files, directories, links, whiteouts). */
  entries: number
  /** The instruction that created it (from the image history). */
  createdBy: string
}

export interface HistoryStep {
  createdBy: string
  /** Whether the step made a filesystem layer (ENV, CMD, LABEL… do not). */
  emptyLayer: boolean
  /** Index into layers, or null for an empty step. */
  layer: number | null
}

export interface InspectReport {
  image: string
  id: string
  tags: string[]
  /** The engine's size of the image (all layers, as `docker images` shows it). */
  totalSize: number
  /** Σ layer sizes as counted here (file bytes in each layer tar). */
  layersSize: number
  layers: LayerReport[]
  history: HistoryStep[]
  efficiency: number
  wastedBytes: number
  /** Σ size of the layers after the first. */
  userSize: number
  userWastedPercent: number
  /** The paths that waste the most, at most 20. */
  inefficientPaths: InefficientPath[]
  /** Present when CI thresholds were evaluated. */
  ci?: {pass: boolean; rules: CiRuleResult[]}
}

export interface SavedImage {
  /** One entry list per layer, bottom first (from manifest.json's Layers). */
  layers: LayerEntry[][]
  config: ImageConfig
  repoTags: string[]
}

interface ImageConfig {
  history?: Array<{created_by?: string; empty_layer?: boolean; comment?: string}>
  rootfs?: {diff_ids?: string[]}
}

/** Reads a `docker save` tar (the Docker archive format, or an OCI layout) for its layers' headers and the config. */
export async function readSavedImage(stream: Readable): Promise<SavedImage> {
  const extract = tar.extract()
  const jsonFiles = new Map<string, string>()
  const layerEntries = new Map<string, LayerEntry[]>()
  stream.on('error', (error) => extract.destroy(error))
  stream.pipe(extract)
  for await (const entry of extract) {
    const name = normalizeLayerPath(entry.header.name)
    if (entry.header.type !== 'file') {
      entry.resume()
      continue
    }
    const head = await peek(entry)
    if (head.first.every((b) => b === 0)) {
      // An empty layer: a tar of nothing but its end blocks (a RUN that changed no file).
      await drain(head.stream)
      layerEntries.set(name, [])
      continue
    }
    const b0 = head.first[0]
    if (b0 === 0x7b || b0 === 0x5b) {
      // JSON: manifest.json, index.json, an image config.
      jsonFiles.set(name, (await collect(head.stream)).toString('utf8'))
    } else if (b0 === 0x1f && head.first[1] === 0x8b) {
      layerEntries.set(name, await readLayer(head.stream.pipe(createGunzip())))
    } else if (looksLikeTar(head.first)) {
      layerEntries.set(name, await readLayer(head.stream))
    } else {
      await drain(head.stream)
    }
  }

  const manifestText = jsonFiles.get('manifest.json')
  if (manifestText === undefined) throw new Error('the saved image has no manifest.json')
  const manifest = JSON.parse(manifestText) as Array<{Config: string; RepoTags?: string[] | null; Layers: string[]}>
  const first = manifest[0]
  const configText = jsonFiles.get(normalizeLayerPath(first.Config))
  if (configText === undefined) throw new Error(`the saved image lacks its config ${first.Config}`)
  const layers = first.Layers.map((path) => {
    const entries = layerEntries.get(normalizeLayerPath(path))
    if (entries === undefined) throw new Error(`the saved image lacks its layer ${path}`)
    return entries
  })
  return {layers, config: JSON.parse(configText) as ImageConfig, repoTags: first.RepoTags ?? []}
}

async function readLayer(stream: Readable): Promise<LayerEntry[]> {
  const extract = tar.extract()
  const entries: LayerEntry[] = []
  stream.on('error', (error) => extract.destroy(error))
  stream.pipe(extract)
  for await (const entry of extract) {
    const h = entry.header
    const type: LayerEntry['type'] =
      h.type === 'file' || h.type === 'contiguous-file' ? 'file' : h.type === 'directory' ? 'directory' : h.type === 'symlink' ? 'symlink' : h.type === 'link' ? 'link' : 'other'
    entries.push({path: h.name, size: h.size ?? 0, type})
    entry.resume()
    await new Promise<void>((resolve) => entry.on('end', resolve))
  }
  return entries
}

function looksLikeTar(block: Buffer): boolean {
  return block.length >= 262 && block.subarray(257, 262).toString('latin1') === 'ustar'
}

/** The first bytes of a stream (up to 512), and a stream that still yields everything. */
async function peek(source: AsyncIterable<unknown>): Promise<{first: Buffer; stream: Readable}> {
  const out = new PassThrough()
  const chunks: Buffer[] = []
  let have = 0
  const iterator = source[Symbol.asyncIterator]()
  while (have < 512) {
    const next = await iterator.next()
    if (next.done) break
    chunks.push(next.value as Buffer)
    have += (next.value as Buffer).length
  }
  const first = Buffer.concat(chunks)
  ;(async () => {
    out.write(first)
    for (;;) {
      const next = await iterator.next()
      if (next.done) break
      if (!out.write(next.value)) await new Promise((resolve) => out.once('drain', resolve))
    }
    out.end()
  })().catch((error: unknown) => out.destroy(error as Error))
  return {first: first.subarray(0, 512), stream: out}
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) {
    // discard
  }
}

/** The report for a saved image; the engine's own numbers (id, tags, total size) come from inspect. */
export function analyzeSavedImage(saved: SavedImage, meta: {image: string; id: string; tags: string[]; totalSize: number}, thresholds?: CiThresholds): InspectReport {
  const result = computeEfficiency(saved.layers)
  const diffIds = saved.config.rootfs?.diff_ids ?? []
  const history: HistoryStep[] = []
  let layer = 0
  for (const h of saved.config.history ?? []) {
    const empty = h.empty_layer === true
    history.push({createdBy: cleanCreatedBy(h.created_by ?? h.comment ?? ''), emptyLayer: empty, layer: empty ? null : layer})
    if (!empty) layer++
  }
  const layerSteps = history.filter((h) => !h.emptyLayer)
  const layers: LayerReport[] = saved.layers.map((entries, index) => ({
    index,
    digest: diffIds[index] ?? '',
    size: result.layerSizes[index],
    entries: entries.length,
    createdBy: layerSteps.length === saved.layers.length ? layerSteps[index].createdBy : (layerSteps[index]?.createdBy ?? ''),
  }))
  const report: InspectReport = {
    image: meta.image,
    id: meta.id,
    tags: meta.tags,
    totalSize: meta.totalSize,
    layersSize: result.layerSizes.reduce((a, b) => a + b, 0),
    layers,
    history,
    efficiency: result.efficiency,
    wastedBytes: result.wastedBytes,
    userSize: result.userSize,
    userWastedPercent: result.userWastedPercent,
    inefficientPaths: result.inefficient.slice(0, 20),
  }
  if (thresholds !== undefined) {
    const rules = evaluateCi(result, thresholds)
    report.ci = {pass: rules.every((r) => r.pass), rules}
  }
  return report
}

/** `/bin/sh -c #(nop) COPY file:abc in /app/ ` → `COPY file:abc in /app/`; `/bin/sh -c apt-get …` → `RUN apt-get …`. */
export function cleanCreatedBy(createdBy: string): string {
  const text = createdBy.trim()
  const nop = /^\/bin\/sh -c #\(nop\)\s+(.*)$/s.exec(text)
  if (nop) {
    // The classic builder writes `COPY --chown=1:1dir:<64 hex> in /app/`; make it readable.
    return nop[1]
      .trim()
      .replace(/(--chown=\S+?)((?:dir|file|multi):[0-9a-f]{64})/g, '$1 $2')
      .replace(/\b(dir|file|multi):([0-9a-f]{12})[0-9a-f]{52}/g, '$1:$2')
  }
  const run = /^\/bin\/sh -c (.*)$/s.exec(text)
  if (run) return `RUN ${run[1].trim()}`
  return text
}

/** Inspects an image in the engine: MLS_DOCKER_IMAGE_NOT_FOUND when it has none by that name. */
export async function inspectImage(docker: Docker, image: string, thresholds?: CiThresholds): Promise<InspectReport> {
  const info = await lookupImage(docker, image)
  // Save by id, so that a tag moved meanwhile cannot mix two images.
  const stream = (await docker.getImage(info.Id).get()) as Readable
  const saved = await readSavedImage(stream)
  return analyzeSavedImage(saved, {image, id: info.Id, tags: info.RepoTags ?? [], totalSize: info.Size}, thresholds)
}
