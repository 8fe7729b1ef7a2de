// Image lookup: mlserve never pulls, so an image is either in the engine or
// an error that says how to make it.
import type Docker from 'dockerode'
import {mlserveError} from '../errors.js'

/** The engine's data on an image; MLS_DOCKER_IMAGE_NOT_FOUND when it has no such image. */
export async function lookupImage(docker: Docker, image: string): Promise<Docker.ImageInspectInfo> {
  try {
    return await docker.getImage(image).inspect()
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) throw mlserveError('MLS_DOCKER_IMAGE_NOT_FOUND', {image})
    throw error
  }
}

/**
 * The newest local image tagged `repo:*`, as `repo:tag`: what `mlserve build`
 * made last for an API (it tags NAME:VERSION). Null when there is none.
 */
export async function newestImageOf(docker: Docker, repo: string): Promise<string | null> {
  const images = await docker.listImages({filters: JSON.stringify({reference: [repo]})})
  let newest: {tag: string; created: number} | null = null
  for (const image of images) {
    const tag = (image.RepoTags ?? []).find((t) => t.startsWith(`${repo}:`))
    if (tag && (newest === null || image.Created > newest.created)) newest = {tag, created: image.Created}
  }
  return newest?.tag ?? null
}
