export { Catalogue, loadCatalogue, type ProviderEntry } from './catalogue.ts';
export { CredentialVault, type Credentials } from './credential-vault.ts';
export { IntegrationService, CredentialsRejected, type ConnectionView, type IntegrationListing, type ConnectInput } from './integration-service.ts';
export { rotateCredentials } from './key-rotation.ts';
export { OutboundGuard, isAllowListEntry } from './outbound-guard.ts';
