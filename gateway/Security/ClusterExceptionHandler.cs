using System.Globalization;
using AnalyticsEngine.Query;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>
/// A grain call the cluster did not answer in time, or that no silo could take, answers 504 or 503 saying so and
/// whether to send the request again, rather than a bare 500: the request may still take effect (an ingest commits
/// after its caller stopped waiting), which a retry with the same <c>Idempotency-Key</c> then reports.
/// </summary>
public sealed class ClusterExceptionHandler(IProblemDetailsService problems, IOptions<ClientMessagingOptions> messaging) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var (status, title, detail) = exception switch
        {
            // The exception does not say which call timed out, and queries wait longer than the rest: both are named.
            TimeoutException => (StatusCodes.Status504GatewayTimeout, "Cluster timeout",
                $"The cluster did not answer in time: within {TimeSpan.Parse(IKpiQueryGrain.CallTimeout, CultureInfo.InvariantCulture).TotalMinutes:0.#} min for a query "
                + $"(IKpiQueryGrain.CallTimeout), {messaging.Value.ResponseTimeout.TotalSeconds:0.#} s for any other call (Orleans:ResponseTimeoutSeconds). "
                + "The request may still take effect: send it again (an ingest with the same Idempotency-Key, which stores its rows once either way)."),
            SiloUnavailableException or OrleansMessageRejectionException => (StatusCodes.Status503ServiceUnavailable, "Cluster unavailable",
                "No silo could take the request just now (one may be starting or stopping). Send it again in a moment."),
            _ => (0, "", ""),
        };
        if (status == 0)
        {
            return false;
        }

        httpContext.Response.StatusCode = status;
        httpContext.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}
