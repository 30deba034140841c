export { TemplateService, type TemplateListing, type PromptOptions, type PromptUser } from './template-service.ts';
export { TemplateStore, type TemplateView, type TemplateFilters } from './template-store.ts';
export { PromptEngine, type GeneratedPrompt, type PromptCacheStats } from './prompt-engine.ts';
export { TemplateMatcher, type TemplateMatch } from './template-matcher.ts';
export { loadLibrary } from './template-library.ts';
export { compileTemplate, templateDefinitionSchema, type TemplateDefinition } from './template-definition.ts';
export { completeSessionToolName, delimit } from './prompt-builder.ts';
