using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A SignalR JSON hub client over long polling, written out by hand so that the test decides when it reads.
/// Between two polls the gateway's transport buffer for the connection fills and its sends wait, exactly as for
/// a browser tab on a slow link; the test server's in-memory WebSocket never pushes back, so it cannot show this.
/// </summary>
public sealed class LongPollingHubClient : IAsyncDisposable
{
    private const char RecordSeparator = '\u001e';
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private readonly HttpClient _http;
    private readonly string _token;
    private readonly Dictionary<string, JsonElement> _completions = [];
    private int _lastInvocation;
    private bool _handshaken;

    private LongPollingHubClient(HttpClient http, string connectionId, string token)
    {
        _http = http;
        ConnectionId = connectionId;
        _token = token;
    }

    /// <summary>The id the hub knows the connection by (Context.ConnectionId).</summary>
    public string ConnectionId { get; }

    /// <summary>Called with the values of each <c>kpiChanged</c> message, in the order they were read.</summary>
    public Action<KpiValue[]>? OnChanged { get; set; }

    /// <summary>How many <c>kpiChanged</c> messages have been read.</summary>
    public int ChangeMessages { get; private set; }

    /// <param name="http">A client of the gateway that sends a bearer token.</param>
    public static async Task<LongPollingHubClient> ConnectAsync(HttpClient http)
    {
        using var negotiate = await http.PostAsync("hubs/kpi/negotiate?negotiateVersion=1", null);
        negotiate.EnsureSuccessStatusCode();
        var answer = await negotiate.Content.ReadFromJsonAsync<JsonElement>();
        var client = new LongPollingHubClient(http, answer.GetProperty("connectionId").GetString()!, answer.GetProperty("connectionToken").GetString()!);

        await client.PollAsync(); // the first poll starts the connection and returns at once
        await client.PostAsync("{\"protocol\":\"json\",\"version\":1}" + RecordSeparator);
        while (!client._handshaken)
        {
            await client.PollAsync();
        }

        return client;
    }

    /// <summary>Invokes a hub method and polls until its completion arrives; pushes read meanwhile go to <see cref="OnChanged"/>.</summary>
    public async Task<JsonElement> InvokeAsync(string target, params object?[] arguments)
    {
        var id = (++_lastInvocation).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await PostAsync(JsonSerializer.Serialize(new { type = 1, invocationId = id, target, arguments }, Json) + RecordSeparator);
        while (!_completions.ContainsKey(id))
        {
            await PollAsync();
        }

        var completion = _completions[id];
        if (completion.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException(error.GetString());
        }

        return completion.TryGetProperty("result", out var result) ? result : default;
    }

    /// <summary>One long poll: everything the gateway has buffered for the connection (waits while there is nothing).</summary>
    public async Task PollAsync(CancellationToken cancellationToken = default)
    {
        using var response = await _http.GetAsync($"hubs/kpi?id={Uri.EscapeDataString(_token)}", cancellationToken);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        foreach (var record in body.Split(RecordSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            Handle(JsonDocument.Parse(record).RootElement.Clone());
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var _ = await _http.DeleteAsync($"hubs/kpi?id={Uri.EscapeDataString(_token)}");
    }

    private void Handle(JsonElement message)
    {
        if (!message.TryGetProperty("type", out var type))
        {
            _handshaken = true; // the handshake answer, "{}"
            return;
        }

        switch (type.GetInt32())
        {
            case 1 when message.GetProperty("target").GetString() == "kpiChanged":
                ChangeMessages++;
                OnChanged?.Invoke(message.GetProperty("arguments")[0].Deserialize<KpiValue[]>(Json)!);
                break;
            case 3:
                _completions[message.GetProperty("invocationId").GetString()!] = message;
                break;
            case 7:
                throw new InvalidOperationException($"the hub closed the connection: {message}");
        }
    }

    private async Task PostAsync(string text)
    {
        using var content = new StringContent(text, Encoding.UTF8, "text/plain");
        using var response = await _http.PostAsync($"hubs/kpi?id={Uri.EscapeDataString(_token)}", content);
        response.EnsureSuccessStatusCode();
    }
}
