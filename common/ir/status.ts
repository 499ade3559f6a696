/**
 * Status the controller computes for user objects (pure output of translate()); the status
 * writer applies it, touching only this controller's entries and only when they changed.
 */
import type { SourceRef } from './source.ts';

/** A metav1.Condition without the transition time (the writer keeps or sets it). */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration: number;
}

/** A route's status for one of its parents (`status.parents[]`). */
export interface RouteParentStatus {
  /** The parentRef as the user wrote it (echoed back). */
  readonly parentRef: Readonly<Record<string, unknown>>;
  readonly conditions: readonly Condition[];
}

/** The status of one object, by kind. */
export type ObjectStatus =
  | { readonly kind: 'route'; readonly source: SourceRef; readonly parents: readonly RouteParentStatus[] }
  | {
      readonly kind: 'gateway';
      readonly source: SourceRef;
      readonly conditions: readonly Condition[];
      readonly addresses: readonly string[];
      readonly listeners: readonly {
        readonly name: string;
        readonly attachedRoutes: number;
        readonly conditions: readonly Condition[];
      }[];
    }
  | { readonly kind: 'gatewayclass'; readonly source: SourceRef; readonly conditions: readonly Condition[] }
  | {
      readonly kind: 'policy';
      readonly source: SourceRef;
      readonly ancestors: readonly {
        readonly ancestorRef: Readonly<Record<string, unknown>>;
        readonly conditions: readonly Condition[];
      }[];
    };
