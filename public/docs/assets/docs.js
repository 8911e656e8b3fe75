// Swagger UI for skanpost's OpenAPI document, from skanpost's own origin (no CDN, no inline script).
window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });
