// The API reference (/docs): Swagger UI from the backend's own copy (the one the
// fastapi-offline package ships, served under /docs/assets), reading this backend's
// /openapi.json. It is a file of its own, not an inline script, so the page keeps the
// strict Content-Security-Policy.
"use strict";

window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Swagger UI would otherwise send the spec to validator.swagger.io for a badge: the page
  // talks to this backend only (the policy would block it anyway).
  validatorUrl: null,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
