using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Claims;
using AnalyticsEngine.Governance;
using AnalyticsEngine.ServiceDefaults;
using Microsoft.AspNetCore.SignalR;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>Endpoint metadata: a POST that changes nothing (a query, a check, a proposal), which the audit trail leaves out.</summary>
public sealed class ChangesNothing
{
    public static readonly ChangesNothing Instance = new();
}

/// <summary>Endpoint metadata: audited without its body (ingest: the rows are data, kept in their own tables).</summary>
public sealed class AuditedWithoutBody
{
    public static readonly AuditedWithoutBody Instance = new();
}

/// <summary>
/// Records every request with a valid token that changes something, or tries to — POST, PUT, PATCH and DELETE of the
/// API, refused ones included — in the audit trail (<see cref="IAuditGrain"/>): who, when, on which clients, what, how it ended, and for
/// an accepted JSON change of configuration its body. It runs after authentication and before authorization, so a
/// refusal for want of a role is recorded with who asked. The entry is written once the response has gone, so no
/// caller waits for it; a failed write is logged and counted (<c>ae.audit.write_failures</c>), as the change it
/// records has happened.
/// </summary>
public sealed partial class AuditTrail(RequestDelegate next, IClusterClient cluster, ILogger<AuditTrail> logger)
{
    /// <summary>The largest body kept with an entry.</summary>
    public const int MaxBodyBytes = 16 * 1024;

    /// <summary>Where <see cref="ClientAccessFilter"/> leaves the client ids it checked, body ones included.</summary>
    internal const string ClientIdsItem = "ae.audit.clientIds";

    private static readonly Meter Meter = new(Telemetry.MeterName);
    private static readonly Counter<long> WriteFailures =
        Meter.CreateCounter<long>("ae.audit.write_failures", "{entry}", "Audit entries that could not be written");

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = context.GetEndpoint();
        // A request without a valid token identifies nobody and changes nothing; recorded, anyone could fill the trail.
        if (!IsChange(context.Request.Method) || endpoint is null || context.User.Identity?.IsAuthenticated != true
            || endpoint.Metadata.GetMetadata<ChangesNothing>() is not null
            || endpoint.Metadata.GetMetadata<HubMetadata>() is not null)
        {
            await next(context);
            return;
        }

        var request = context.Request;
        var keepBody = endpoint.Metadata.GetMetadata<AuditedWithoutBody>() is null
            && request.ContentLength is > 0 and <= MaxBodyBytes
            && request.HasJsonContentType();
        if (keepBody)
        {
            request.EnableBuffering(MaxBodyBytes);
        }

        var at = DateTimeOffset.UtcNow;
        var status = StatusCodes.Status500InternalServerError;
        try
        {
            await next(context);
            status = context.Response.StatusCode;
        }
        finally
        {
            var entry = new AuditEntry(
                at,
                context.User.Identity?.Name ?? "",
                RolesOf(context.User),
                ClientIdsOf(context),
                $"{request.Method} {RouteOf(endpoint) ?? request.Path.Value}",
                request.Path.Value + request.QueryString.Value,
                status,
                Activity.Current?.TraceId.ToString(),
                keepBody && status is >= 200 and < 300 ? await BodyAsync(request) : null);
            context.Response.OnCompleted(() => WriteAsync(entry));
        }
    }

    private static bool IsChange(string method) =>
        HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method);

    /// <summary>The endpoint's route pattern; a group's own route ("/clients/" of POST /clients) without its trailing slash.</summary>
    private static string? RouteOf(Endpoint endpoint) =>
        (endpoint as RouteEndpoint)?.RoutePattern.RawText is { Length: > 1 } pattern ? pattern.TrimEnd('/') : (endpoint as RouteEndpoint)?.RoutePattern.RawText;

    private static string[] RolesOf(ClaimsPrincipal user) =>
        user.Identity is ClaimsIdentity { IsAuthenticated: true } identity
            ? [.. identity.FindAll(identity.RoleClaimType).Select(c => c.Value).Distinct().Order(StringComparer.Ordinal)]
            : [];

    /// <summary>The clients the access check read (body ones too); else, when it did not run, those in the path and query.</summary>
    private static string[] ClientIdsOf(HttpContext context)
    {
        if (context.Items[ClientIdsItem] is IReadOnlyList<string> checkedIds)
        {
            return [.. checkedIds.Distinct(StringComparer.Ordinal)];
        }

        var ids = new List<string>();
        if (context.Request.RouteValues.TryGetValue("clientId", out var fromRoute) && fromRoute is string id)
        {
            ids.Add(id);
        }

        ids.AddRange(context.Request.Query["clientId"].OfType<string>());
        return [.. ids.Distinct(StringComparer.Ordinal)];
    }

    private static async Task<string?> BodyAsync(HttpRequest request)
    {
        try
        {
            request.Body.Position = 0;
            using var reader = new StreamReader(request.Body, leaveOpen: true);
            return await reader.ReadToEndAsync();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
            return null;
        }
    }

    private async Task WriteAsync(AuditEntry entry)
    {
        try
        {
            await cluster.GetGrain<IAuditGrain>(0).Record(entry);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            WriteFailures.Add(1);
            LogWriteFailed(e, entry.Action, entry.Path, entry.Actor, entry.Status);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write the audit entry of {Action} ({Path}) by '{Actor}', answered {Status}")]
    private partial void LogWriteFailed(Exception exception, string action, string path, string actor, int status);
}
