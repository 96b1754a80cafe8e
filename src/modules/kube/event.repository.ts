import { Injectable } from '@nestjs/common';
import { type CoreV1Event, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

/** Kubernetes Events (core/v1) the manager records. */
@Injectable()
export class EventRepository {
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Creates one Event in `namespace`; errors propagate. */
  async create(namespace: string, body: CoreV1Event): Promise<void> {
    await this.core.createNamespacedEvent({ namespace, body });
  }
}
