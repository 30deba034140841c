export { buildApp, logRedactions, type AppServices, type AppOptions } from './app.ts';
export { publicRoutes, publicPrefixes, isPublicRoute } from './public-routes.ts';
