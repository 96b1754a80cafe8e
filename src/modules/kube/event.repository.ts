import { Injectable } from '@nestjs/common';
import { type CoreV1Event } from '@kubernetes/client-node';
import { KubeConnection } from './kube-connection';
import { kubeJson } from './kube-http';

/** Kubernetes Events (core/v1) the manager records. */
@Injectable()
export class EventRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  /** Creates one Event in `namespace`; errors propagate. */
  async create(namespace: string, body: CoreV1Event): Promise<void> {
    await kubeJson(this.kubeConfig, {
      method: 'POST',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
      body: { apiVersion: 'v1', kind: 'Event', ...body },
    });
  }
}
