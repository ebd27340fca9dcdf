using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>Declares the bearer scheme in the OpenAPI document, so the API reference can send a token.</summary>
public static class OpenApiBearer
{
    public const string SchemeName = "Bearer";

    public static OpenApiOptions AddBearerSecurityScheme(this OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A JWT with a role (admin, analyst, viewer) and a clients claim; see docs/security.md.",
            };
            document.Security ??= [];
            document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, document)] = [] });
            return Task.CompletedTask;
        });
    }
}
