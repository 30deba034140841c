export { Catalogue, loadCatalogue, type ProviderEntry } from './catalogue.ts';
export { CredentialVault, type Credentials } from './credential-vault.ts';
export { HealthMonitor } from './integration-health.ts';
export {
  IntegrationService,
  CredentialsRejected,
  type ConnectionView,
  type IntegrationListing,
  type ConnectInput,
} from './integration-service.ts';
export { IntegrationTools, type DiscoveredIntegration, type ToolStats } from './integration-tools.ts';
export { rotateCredentials } from './key-rotation.ts';
export { McpClients } from './mcp-clients.ts';
export { OutboundGuard, isAllowListEntry } from './outbound-guard.ts';
export { ToolRegistry, type RegisteredTool } from './tool-registry.ts';
