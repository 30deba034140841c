// The config area: what each setting accepts (settings.ts and its groups) and how validated
// settings become the typed Config (to-config.ts). Reading them from the environment and the
// config file is backend/src/config.ts, the entry everything else imports.
export { settings, settingsSchema, type SettingName, type Settings } from './settings.ts';
export { toConfig, type Config, type RateLimitGroup } from './to-config.ts';
