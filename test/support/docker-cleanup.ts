import Docker from "dockerode";

export const docker = new Docker({ socketPath: "/var/run/docker.sock" });

/** Removes every container, network, volume and image berth made for an app. */
export async function removeApp(app: string): Promise<void> {
  const filters = JSON.stringify({ label: [`berth.app=${app}`] });
  for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  for (const n of await docker.listNetworks({ filters })) {
    const net = docker.getNetwork(n.Id);
    const info = await net.inspect().catch(() => undefined);
    for (const id of Object.keys(info?.Containers ?? {})) await net.disconnect({ Container: id, Force: true }).catch(() => undefined);
    await net.remove().catch(() => undefined);
  }
  // After the containers, which would otherwise keep their volumes in use.
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove().catch(() => undefined);
  for (const i of await docker.listImages({ filters })) await docker.getImage(i.Id).remove({ force: true }).catch(() => undefined);
}

export async function removeContainer(name: string): Promise<void> {
  await docker.getContainer(name).remove({ force: true, v: true }).catch(() => undefined);
}

export async function containersOf(app: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.app=${app}`] }) });
}

/** Removes what an installation (BERTH_INSTANCE) made under its fixed names: its proxy and probe, ingress network and proxy volumes. */
export async function removeInstance(instance: string): Promise<void> {
  // Everything the installation made, whatever app it was for (an installed repository, a bench's apps).
  const filters = JSON.stringify({ label: [`berth.instance=${instance}`] });
  for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  await removeContainer(`${instance}-proxy`);
  await removeContainer(`${instance}-probe`);
  await docker.getNetwork(`${instance}-ingress`).remove().catch(() => undefined);
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
  for (const v of [`${instance}-proxy-data`, `${instance}-proxy-config`]) await docker.getVolume(v).remove().catch(() => undefined);
}

/** A label naming the test process that made an image, so a later run can remove those of a run that was killed. */
export const RUN_LABEL = "berth.test-run";

/** Whether a process with this pid runs (a test run that made something and may still clean it up). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes the images labelled RUN_LABEL by test processes that are gone, newest first (a child goes before its parent). */
export async function removeImagesOfDeadRuns(): Promise<void> {
  const images = await docker.listImages({ filters: JSON.stringify({ label: [RUN_LABEL] }) });
  const dead = images.filter((i) => !alive(Number(i.Labels?.[RUN_LABEL]))).sort((a, b) => b.Created - a.Created);
  for (const i of dead) await docker.getImage(i.Id).remove({ force: true }).catch(() => undefined);
}
