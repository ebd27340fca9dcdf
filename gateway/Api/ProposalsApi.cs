using System.Text;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Proposals;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>What <c>POST /proposals/questionnaire</c> takes: KPI codes, a client (its selected KPIs when no codes are given), or both.</summary>
/// <param name="KpiCodes">Catalog KPIs, and with a client id its custom KPIs too.</param>
/// <param name="ClientId">The client the proposal is for; its selected KPIs are the questionnaire's when <paramref name="KpiCodes"/> is not given.</param>
public sealed record ProposalQuestionnaireRequest(IReadOnlyList<string>? KpiCodes = null, string? ClientId = null) : IClientScoped;

/// <summary>
/// Service proposals: <c>POST /proposals/questionnaire</c> answers the questionnaire for a set of KPIs with every
/// choice priced; <c>POST /proposals</c> prices its answers (a <see cref="ProposalRequest"/>) as a
/// <see cref="ServiceProposal"/> in JSON, or as a proposal document in Markdown (<see cref="ProposalDocument"/>).
/// Admins only: proposals carry prices. A body that names a client needs a token that grants it (<see cref="ClientAccessFilter"/>).
/// </summary>
public static class ProposalsApi
{
    /// <summary>The media type of the proposal document.</summary>
    public const string MarkdownContentType = "text/markdown; charset=utf-8";

    private static readonly ResultFormat[] JsonOrMarkdown = [ResultFormat.Json, ResultFormat.Markdown];

    public static IEndpointRouteBuilder MapProposalsApi(this IEndpointRouteBuilder app)
    {
        // Pricing and questionnaires store nothing: the audit trail leaves them out.
        var proposals = app.MapGroup("/proposals").WithTags("Proposals").RefuseUnknownQueryParameters().RequireAuthorization(Policies.Administer)
            .WithMetadata(ChangesNothing.Instance);

        proposals.MapPost("/", GenerateAsync)
            .AnswersJsonOrMarkdown<ServiceProposal>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName("GenerateProposal")
            .WithSummary("Prices the questionnaire's answers as a service proposal: licensing, implementation, infrastructure, managed services, "
                + "totals and schedule. JSON, or the proposal document in Markdown (format=markdown or Accept: text/markdown).");

        proposals.MapPost("/questionnaire", QuestionnaireAsync)
            .AnswersJsonOnly<ProposalQuestionnaire>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName("GetProposalQuestionnaire")
            .WithSummary("The proposal's questionnaire for a set of KPIs (a client's selected ones when no codes are given): "
                + "the value chains and object models they need, and every question's choices with their prices.");

        return app;
    }

    /// <summary>
    /// <c>POST /proposals</c>: the proposal for the answers; 400 with the answers' problems by field, 404 when the client
    /// the answers name does not exist.
    /// </summary>
    private static async Task<Results<Ok<ServiceProposal>, ContentHttpResult, ValidationProblem, ProblemHttpResult>> GenerateAsync(
        ProposalRequest request, HttpContext http, IClusterClient cluster)
    {
        var outcome = await cluster.GetGrain<IProposalGrain>(0).Generate(request);
        if (outcome.UnknownClient)
        {
            return Problems.NotFound($"Client '{request.ClientId}' does not exist.");
        }

        if (outcome.Proposal is not { } proposal)
        {
            return Problems.Validation(outcome.Problems);
        }

        return ResultFormats.Negotiate(http.Request, JsonOrMarkdown) == ResultFormat.Markdown
            ? TypedResults.Text(ProposalDocument.Render(proposal), MarkdownContentType, Encoding.UTF8)
            : TypedResults.Ok(proposal);
    }

    /// <summary><c>POST /proposals/questionnaire</c>: the questionnaire; 400 for unknown KPIs, 404 for an unknown client.</summary>
    private static async Task<Results<Ok<ProposalQuestionnaire>, ValidationProblem, ProblemHttpResult>> QuestionnaireAsync(
        ProposalQuestionnaireRequest request, IClusterClient cluster)
    {
        var outcome = await cluster.GetGrain<IProposalGrain>(0).Questionnaire(request.KpiCodes, request.ClientId);
        if (outcome.UnknownClient)
        {
            return Problems.NotFound($"Client '{request.ClientId}' does not exist.");
        }

        return outcome.Questionnaire is { } questionnaire ? TypedResults.Ok(questionnaire) : Problems.Validation(outcome.Problems);
    }
}
