using AnalyticsEngine.Gateway.Api;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>Origins allowed to call the gateway from a browser page they serve, bound from <c>Cors</c>. None by default.</summary>
public sealed class CorsSettings
{
    public const string Section = "Cors";

    public IReadOnlyList<string> Origins { get; set; } = [];
}

/// <summary>
/// Everything the edge needs to trust a caller and keep it within bounds: JWT bearer authentication (HTTP and
/// the SignalR <c>access_token</c>), role policies, client isolation, per-client rate limits, body-size limits,
/// CORS and security headers. See docs/security.md.
/// </summary>
public static class GatewaySecurity
{
    /// <summary>Largest body of an ordinary JSON request; ingest has its own, larger limit (<c>Gateway:MaxIngestBodyBytes</c>).</summary>
    public const long MaxJsonBodyBytes = 1024 * 1024;

    public static WebApplicationBuilder AddGatewaySecurity(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;

        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateOnStart();
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<AuthOptions>>((jwt, auth) => ConfigureJwt(jwt, auth.Value));

        services.AddAuthorizationBuilder()
            // Anything not marked otherwise needs a valid token; anonymous endpoints say so explicitly.
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(Policies.Read, p => p.RequireAuthenticatedUser().RequireRole(Roles.Viewer, Roles.Analyst, Roles.Admin))
            .AddPolicy(Policies.Analyze, p => p.RequireAuthenticatedUser().RequireRole(Roles.Analyst, Roles.Admin))
            .AddPolicy(Policies.Administer, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin));
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();

        // Unreadable bodies and parameters become ProblemDetails with the reason (in every environment).
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.AddExceptionHandler<ClusterExceptionHandler>();

        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddGatewayRateLimiter();

        services.AddOptions<CorsSettings>().BindConfiguration(CorsSettings.Section)
            .Validate(c => c.Origins.All(IsOrigin), "Cors:Origins must be origins such as https://dashboards.example.com (scheme, host, optional port; no path).")
            .ValidateOnStart();
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<CorsSettings>>((cors, settings) => cors.AddDefaultPolicy(policy =>
        {
            if (settings.Value.Origins.Count > 0)
            {
                policy.WithOrigins([.. settings.Value.Origins]).AllowAnyHeader().AllowAnyMethod().WithExposedHeaders("Retry-After");
            }
        }));

        // The largest body Kestrel reads is the largest ingest batch; other endpoints lower it (MaxJsonBodyBytes).
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<GatewayLimits>>((kestrel, limits) =>
            kestrel.Limits.MaxRequestBodySize = limits.Value.MaxIngestBodyBytes);
        return builder;
    }

    /// <summary>CORS, authentication, authorization, body-size limits and rate limiting, in that order; call after routing.</summary>
    public static WebApplication UseGatewaySecurity(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseCors();
        app.UseAuthentication();
        // Between the two: a request refused for want of a role is audited with who made it.
        app.UseMiddleware<AuditTrail>();
        app.UseAuthorization();
        app.UseBodySizeLimits();
        // After authorization: a caller without a valid token is refused before it costs its client a permit.
        app.UseRateLimiter();
        return app;
    }

    /// <summary>
    /// The group every API endpoint is mapped into: at least a viewer, each query parameter given once, client isolation
    /// on every client id the request names, ordinary JSON bodies capped at <see cref="MaxJsonBodyBytes"/>.
    /// </summary>
    public static RouteGroupBuilder MapSecuredApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("");
        api.RequireAuthorization(Policies.Read)
            .AddEndpointFilter(RepeatedQueryValues.Refuse)
            .AddEndpointFilter<RouteGroupBuilder, ClientAccessFilter>()
            .WithBodySizeLimit(MaxJsonBodyBytes)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return api;
    }

    /// <summary>Caps the request body of these endpoints (413 above it).</summary>
    public static TBuilder WithBodySizeLimit<TBuilder>(this TBuilder builder, long bytes) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new BodySizeLimit(bytes));

    /// <summary>Only callers whose token grants every client (<c>*</c>).</summary>
    public static TBuilder RequireAllClients<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter<TBuilder, AllClientsFilter>();

    private static void ConfigureJwt(JwtBearerOptions jwt, AuthOptions auth)
    {
        // Claims keep their JWT names ("sub", "role", "clients") instead of being renamed to long URIs.
        jwt.MapInboundClaims = false;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidIssuer = string.IsNullOrWhiteSpace(auth.Issuer) ? null : auth.Issuer,
            ValidateAudience = true,
            ValidAudience = auth.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = true,
            ClockSkew = TimeSpan.FromSeconds(auth.ClockSkewSeconds),
            NameClaimType = "sub",
            RoleClaimType = auth.RoleClaim,
        };

        if (auth.UsesAuthority)
        {
            jwt.Authority = auth.Authority;
            jwt.Audience = auth.Audience;
            jwt.RequireHttpsMetadata = auth.RequireHttpsMetadata;
        }
        else
        {
            jwt.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(auth.SigningKeyBytes);
            // Only the algorithm the key is for: a token cannot choose a weaker or different one.
            jwt.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
        }

        jwt.Events = new JwtBearerEvents
        {
            // Browsers cannot set headers on a WebSocket, so SignalR sends the token as ?access_token=.
            // Accepted only on the hubs, where it is the standard; everywhere else it must be a header.
            OnMessageReceived = context =>
            {
                if (context.HttpContext.Request.Path.StartsWithSegments("/hubs")
                    && context.Request.Query["access_token"] is [{ Length: > 0 } token])
                {
                    context.Token = token;
                }

                return Task.CompletedTask;
            },
        };
    }

    private static bool IsOrigin(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && uri.Scheme is "https" or "http"
        && uri.AbsolutePath == "/" && string.IsNullOrEmpty(uri.Query) && !value.EndsWith('/');

    private sealed class BodySizeLimit(long bytes) : IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize { get; } = bytes;
    }
}
