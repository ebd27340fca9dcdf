using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Ingest;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>What a successful ingest answers.</summary>
public sealed record IngestResponse(
    int Received,
    int Accepted,
    long FromSequence,
    long ToSequence,
    bool Replayed,
    DateTimeOffset CommittedAt,
    IReadOnlyList<RowError> Rejected);

/// <summary>
/// <c>POST /ingest/{objectModel}?clientId=…</c>: rows as a JSON array or CSV with a header row. <c>policy=reject</c> (default) stores
/// nothing when any row is invalid; <c>policy=keep</c> stores the valid rows and lists the rejected ones.
/// An <c>Idempotency-Key</c> header makes a retried request a no-op.
/// </summary>
public static class IngestApi
{
    public static IEndpointRouteBuilder MapIngestApi(this IEndpointRouteBuilder app)
    {
        var limits = app.ServiceProvider.GetRequiredService<IOptions<GatewayLimits>>().Value;
        app.MapPost("/ingest/{objectModel}", IngestAsync)
            .RequireAuthorization(Policies.Analyze)
            .WithBodySizeLimit(limits.MaxIngestBodyBytes)
            .WithTags("Ingest")
            .WithName("Ingest")
            .Accepts<object[]>("application/json", "text/csv")
            .Produces<IngestResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    private static async Task<IResult> IngestAsync(
        string objectModel,
        string? clientId,
        string? policy,
        HttpRequest request,
        IClusterClient cluster,
        IOptions<GatewayLimits> options,
        CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(clientId))
        {
            return Problems.BadRequest("Missing client", "Name the client with the query parameter clientId, e.g. /ingest/orders?clientId=acme.");
        }

        IngestPolicy ingestPolicy;
        switch (policy)
        {
            case null or "" or "reject":
                ingestPolicy = IngestPolicy.RejectBatch;
                break;
            case "keep":
                ingestPolicy = IngestPolicy.KeepValid;
                break;
            default:
                return Problems.BadRequest("Unknown policy", $"policy '{policy}' is neither 'reject' (store nothing if any row is invalid) nor 'keep' (store the valid rows).");
        }

        IngestFormat format;
        if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true)
        {
            format = IngestFormat.Json;
        }
        else if (request.ContentType?.StartsWith("text/csv", StringComparison.OrdinalIgnoreCase) == true)
        {
            format = IngestFormat.Csv;
        }
        else
        {
            return TypedResults.Problem($"Send rows as application/json or text/csv (with a header row); got '{request.ContentType ?? "no content type"}'.",
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");
        }

        var body = await ReadBodyAsync(request, options.Value.MaxIngestBodyBytes, ct);
        if (body is null)
        {
            return TooLarge($"The body exceeds the limit of {options.Value.MaxIngestBodyBytes} bytes.");
        }

        var idempotencyKey = request.Headers["Idempotency-Key"].FirstOrDefault();
        if (idempotencyKey is { Length: > 200 })
        {
            return Problems.BadRequest("Invalid Idempotency-Key", "The Idempotency-Key header may be at most 200 characters.");
        }

        var result = await cluster.GetGrain<IIngestGrain>(IngestKeys.For(clientId, objectModel))
            .Ingest(new IngestRequest(format, body, ingestPolicy, idempotencyKey));

        return result.Status switch
        {
            IngestStatus.Committed or IngestStatus.Replayed => TypedResults.Ok(new IngestResponse(
                result.Received, result.Accepted, result.FromSequence, result.ToSequence,
                result.Status == IngestStatus.Replayed, result.CommittedAt, result.Errors)),
            IngestStatus.UnknownClient or IngestStatus.UnknownObjectModel => Problems.NotFound(result.Errors[0].Reason),
            IngestStatus.TooLarge => TooLarge(result.Errors[0].Reason),
            IngestStatus.Unavailable => Unavailable(result.Errors[0].Reason, request.HttpContext),
            _ => Problems.BadRequest(
                "The batch was refused",
                result.Received == 0
                    ? result.Errors[0].Reason
                    : $"{result.Errors.Select(e => e.Row).Distinct().Count()} of {result.Received} rows are invalid; nothing was stored.",
                new Dictionary<string, object?> { ["errors"] = result.Errors }),
        };
    }

    private static IResult Unavailable(string detail, HttpContext context)
    {
        context.Response.Headers.RetryAfter = "2";
        return TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable");
    }

    private static IResult TooLarge(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large");

    /// <summary>Reads the body, or returns null as soon as it passes the limit.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, long limit, CancellationToken ct)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
