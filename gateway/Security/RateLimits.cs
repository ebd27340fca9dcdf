using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>Per-client request rates, bound from the <c>RateLimits</c> configuration section.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Sustained requests per second for one client (a token bucket refilled every second).</summary>
    [Range(1, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 50;

    /// <summary>Requests one client may send at once before the rate applies.</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 100;
}

/// <summary>
/// One token bucket per client: the client named by the route or query (<c>clientId</c>) when the caller may see
/// it, else the caller (its <c>sub</c>). Anonymous endpoints (health, metrics, the API reference) are not limited.
/// </summary>
public static class GatewayRateLimiter
{
    public static IServiceCollection AddGatewayRateLimiter(this IServiceCollection services)
    {
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((limiter, configured) =>
        {
            var limits = configured.Value;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                PartitionKey(context) is { } key
                    ? RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = limits.Burst,
                        TokensPerPeriod = limits.PermitsPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })
                    : RateLimitPartition.GetNoLimiter(""));
            limiter.OnRejected = OnRejectedAsync;
        });
        return services.AddRateLimiter(_ => { });
    }

    /// <summary>
    /// The client's bucket only when the caller may see that client: otherwise anyone with a token could spend
    /// another client's permits (and lock its users out) by naming it in requests that are then refused.
    /// </summary>
    internal static string? PartitionKey(HttpContext context)
    {
        var user = context.User;
        if (user.Identity?.IsAuthenticated != true)
        {
            return null;
        }

        var clientId = context.Request.RouteValues.TryGetValue("clientId", out var routeValue) && routeValue is string fromRoute
            ? fromRoute
            : context.Request.Query["clientId"] is [{ } fromQuery, ..] ? fromQuery : null;
        return clientId is not null && ClientAccess.CanAccess(user, clientId)
            ? "client:" + clientId
            : "caller:" + (user.FindFirstValue("sub") ?? "");
    }

    private static async ValueTask OnRejectedAsync(OnRejectedContext rejected, CancellationToken ct)
    {
        var context = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
            ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds))
            : 1;
        context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests",
                Detail = $"The request rate for this client is above its limit; retry after {retryAfter} s.",
            },
        });
    }
}

/// <summary>
/// Limits hub calls per caller with the same rates as HTTP: every <c>Subscribe</c> costs grain calls, and one
/// WebSocket could otherwise send them as fast as the network allows. A refused call gets a HubException.
/// </summary>
public sealed class HubRateLimitFilter : Microsoft.AspNetCore.SignalR.IHubFilter, IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter;

    public HubRateLimitFilter(IOptions<RateLimitOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var limits = options.Value;
        _limiter = PartitionedRateLimiter.Create<string, string>(caller => RateLimitPartition.GetTokenBucketLimiter(caller, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = limits.Burst,
            TokensPerPeriod = limits.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public async ValueTask<object?> InvokeMethodAsync(
        Microsoft.AspNetCore.SignalR.HubInvocationContext invocationContext,
        Func<Microsoft.AspNetCore.SignalR.HubInvocationContext, ValueTask<object?>> next)
    {
        ArgumentNullException.ThrowIfNull(invocationContext);
        ArgumentNullException.ThrowIfNull(next);
        var context = invocationContext.Context;
        var caller = context.User?.FindFirstValue("sub") is { } subject ? "caller:" + subject : "connection:" + context.ConnectionId;
        using var lease = _limiter.AttemptAcquire(caller);
        if (!lease.IsAcquired)
        {
            var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
            throw new Microsoft.AspNetCore.SignalR.HubException($"Too many calls; retry after {retryAfter} s.");
        }

        return await next(invocationContext);
    }

    public void Dispose() => _limiter.Dispose();
}
