// skanpost's version, for User-Agent and the OpenAPI document; a test keeps it equal to package.json.
export const VERSION = '0.1.0';
