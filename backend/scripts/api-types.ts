import fs from 'node:fs';
import path from 'node:path';
import { apiSchemaPath, apiSchemaSource } from './api-schema-source.ts';

// `npm run api:types`: writes the console's API types from the server's OpenAPI document.
fs.writeFileSync(apiSchemaPath, await apiSchemaSource());
console.log(`wrote ${path.relative(process.cwd(), apiSchemaPath)}`);
