namespace AnalyticsEngine.Gateway.Security;

/// <summary>Standard response headers that keep browsers from sniffing, framing or leaking the gateway's pages.</summary>
public static class SecurityHeaders
{
    // The dashboard loads only its own scripts and styles and talks to its own origin (HTTP and WebSocket).
    // The icon is an inline data: SVG.
    private const string PagePolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    // The Scalar API reference configures itself with an inline script and inline styles.
    private const string ReferencePolicy =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments("/scalar") ? ReferencePolicy : PagePolicy;
        return next(context);
    });
}
