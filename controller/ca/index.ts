/** Hosting the built-in CA in the controller: Secret store, TokenReview authn, node-aware authz. */
export { TokenReviewAuthenticator, callerFromTokenReview } from './authn.ts';
export type { KubeCaCaller, TokenReviewOptions } from './authn.ts';
export { MeshAuthorizer, NODE_AGENT_ACCOUNT } from './authz.ts';
export type { CaLookup, MeshAuthorizerOptions } from './authz.ts';
export { WorldCaLookup } from './lookup.ts';
export { KubeRest, KubeApiError, isKubeStatus } from '../kube/rest.ts';
export type { JsonObject, KubeRestOptions } from '../kube/rest.ts';
export {
  SecretCaStore,
  CA_SECRETS,
  CA_STORE_RACE,
  caFilesFromSecret,
  caSecret,
  loadOrCreateClusterCa,
} from './secret-store.ts';
export type { ClusterCaOptions, SecretCaStoreOptions } from './secret-store.ts';
