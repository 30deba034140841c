import fs from 'node:fs';
import path from 'node:path';
import { apiSchemaPaths, apiSchemaSource } from './api-schema-source.ts';

// `npm run api:types`: writes the API types of the console and of the script client from the server's OpenAPI document.
const source = await apiSchemaSource();
for (const file of apiSchemaPaths) {
  fs.writeFileSync(file, source);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
