using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>Settings that would leave the gateway open refuse to start; development tokens only where enabled.</summary>
public sealed class StartupAndTokenTests
{
    [Theory]
    [InlineData("", "Neither Auth:SigningKey nor Auth:Authority is set")]
    [InlineData("too-short", "HS256 needs at least 32")]
    public void The_gateway_refuses_to_start_without_a_usable_signing_key(string key, string expected)
    {
        using var gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseEnvironment("Production")
            .UseSetting("ConnectionStrings:Postgres", AnalyticsFixture.Postgres)
            .UseSetting("ConnectionStrings:Redis", AnalyticsFixture.Redis)
            .UseSetting("Auth:Issuer", "test")
            .UseSetting("Auth:Audience", "test")
            .UseSetting("Auth:SigningKey", key));

        var error = Assert.ThrowsAny<Exception>(() => gateway.CreateClient());
        var validation = error as OptionsValidationException ?? error.InnerException as OptionsValidationException
            ?? (error as AggregateException)?.InnerExceptions.OfType<OptionsValidationException>().FirstOrDefault();
        Assert.True(validation is not null, error.ToString());
        Assert.Contains(expected, validation.Message);
    }

    [Fact]
    public void Mint_token_refuses_unless_development_tokens_are_allowed()
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = DevTokens.Run(["mint-token", "--role", "admin", "--clients", "*", "--Auth:AllowDevTokens=false"], output, error);

        Assert.Equal(3, exit);
        Assert.Empty(output.ToString());
        Assert.Contains("Auth:AllowDevTokens", error.ToString());
    }

    [Fact]
    public void Mint_token_prints_a_token_with_the_roles_clients_and_lifetime_asked_for()
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = DevTokens.Run(
        [
            "mint-token", "--role", "analyst", "--clients", "acme globex", "--minutes", "15",
            "--Auth:AllowDevTokens=true", "--Auth:Issuer=dev", "--Auth:Audience=ae", "--Auth:SigningKey=0123456789abcdef0123456789abcdef",
        ], output, error);

        Assert.True(exit == 0, error.ToString());
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(output.ToString().Trim());
        Assert.Equal("dev", token.Issuer);
        Assert.Equal(["ae"], token.Audiences);
        Assert.Equal("analyst", token.GetClaim("role").Value);
        Assert.Equal("acme globex", token.GetClaim(ClientAccess.ClaimType).Value);
        Assert.InRange(token.ValidTo - token.ValidFrom, TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(1));
    }

    [Theory]
    [InlineData("--role", "root")]
    [InlineData("--minutes", "0")]
    [InlineData("--minutes", "lots")]
    public void Mint_token_refuses_bad_arguments(string option, string value)
    {
        var error = new StringWriter();
        var args = new List<string> { "mint-token", "--role", "viewer", "--clients", "*", option, value, "--Auth:AllowDevTokens=true" };
        Assert.NotEqual(0, DevTokens.Run([.. args], new StringWriter(), error));
        Assert.NotEmpty(error.ToString());
    }

    [Theory]
    [InlineData("a b", "a", true)]
    [InlineData("a b", "c", false)]
    [InlineData("*", "anything", true)]
    [InlineData("a,b", "b", true)]
    [InlineData("", "a", false)]
    public void The_clients_claim_grants_what_it_lists(string claim, string clientId, bool allowed)
    {
        var identity = new System.Security.Claims.ClaimsIdentity([new(ClientAccess.ClaimType, claim)], "test");
        Assert.Equal(allowed, ClientAccess.CanAccess(new(identity), clientId));
    }

    [Fact]
    public void Repeated_clients_claims_add_up_and_an_anonymous_caller_sees_nothing()
    {
        var identity = new System.Security.Claims.ClaimsIdentity([new(ClientAccess.ClaimType, "a"), new(ClientAccess.ClaimType, "b")], "test");
        Assert.True(ClientAccess.CanAccess(new(identity), "b"));
        var anonymous = new System.Security.Claims.ClaimsIdentity([new(ClientAccess.ClaimType, "*")]);
        Assert.False(ClientAccess.CanAccess(new(anonymous), "a"));
    }
}
