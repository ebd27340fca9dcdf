using AnalyticsEngine.Clients;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace AnalyticsEngine.Proposals;

/// <summary>Prices proposals and builds questionnaires in any silo; it keeps no state, so calls run at once.</summary>
[StatelessWorker]
[Reentrant]
public sealed class ProposalGrain(IOptions<PriceList> prices) : Grain, IProposalGrain
{
    public async Task<ProposalOutcome> Generate(ProposalRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var client = await FindClientAsync(request.ClientId);
        return request.ClientId is not null && client is null
            ? new ProposalOutcome(null, [], UnknownClient: true)
            : ProposalCalculator.Calculate(request, client, DateOnly.FromDateTime(DateTime.UtcNow), prices.Value);
    }

    public async Task<QuestionnaireOutcome> Questionnaire(IReadOnlyList<string>? kpiCodes, string? clientId)
    {
        var client = await FindClientAsync(clientId);
        return clientId is not null && client is null
            ? new QuestionnaireOutcome(null, [], UnknownClient: true)
            : QuestionnaireBuilder.Build(kpiCodes, client, prices.Value);
    }

    private Task<ClientConfig?> FindClientAsync(string? clientId) =>
        clientId is null ? Task.FromResult<ClientConfig?>(null) : GrainFactory.GetGrain<IClientConfigGrain>(clientId).Get();
}
