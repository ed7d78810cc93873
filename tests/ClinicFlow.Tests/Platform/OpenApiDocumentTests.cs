using System.Text.Json;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// The served OpenAPI document is what the mobile app's client is generated from: every property
/// and parameter typed, every operation stating its security and its 4XX answers. The run also
/// leaves the document beside the test binaries, where CI lints it with Redocly's recommended rules.
/// </summary>
public sealed class OpenApiDocumentTests(AppFixture app) : ApiTest(app)
{
    public static string DocumentPath => Path.Combine(AppContext.BaseDirectory, "openapi", "openapi.json");

    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];

    private async Task<JsonElement> DocumentAsync()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/openapi/v1.json");
            s.StatusCodeShouldBeOk();
        });
        var text = await result.ReadAsTextAsync();
        Directory.CreateDirectory(Path.GetDirectoryName(DocumentPath)!);
        await File.WriteAllTextAsync(DocumentPath, text, Ct);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    [Fact]
    public async Task Types_every_property_and_parameter()
    {
        var root = await DocumentAsync();
        var untyped = new List<string>();
        Walk(root, "#", untyped);

        Assert.Empty(untyped);
    }

    [Fact]
    public async Task States_security_and_a_4xx_answer_on_every_operation()
    {
        var root = await DocumentAsync();
        var missing = new List<string>();
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => Methods.Contains(o.Name)))
            {
                var name = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                if (!operation.Value.TryGetProperty("security", out _))
                {
                    missing.Add(name + ": security");
                }

                if (!operation.Value.GetProperty("responses").EnumerateObject().Any(r => r.Name.StartsWith('4')))
                {
                    missing.Add(name + ": 4XX");
                }
            }
        }

        Assert.Empty(missing);
        var login = root.GetProperty("paths").GetProperty("/api/auth/login").GetProperty("post");
        Assert.Equal(0, login.GetProperty("security").GetArrayLength());
        var me = root.GetProperty("paths").GetProperty("/api/auth/me").GetProperty("get");
        Assert.True(me.GetProperty("security")[0].TryGetProperty("Bearer", out _));
    }

    [Fact]
    public async Task Types_instants_as_date_time_strings_and_nullable_members_as_null()
    {
        var root = await DocumentAsync();
        var patient = root.GetProperty("components").GetProperty("schemas").GetProperty("GetPatientResponse").GetProperty("properties");

        Assert.Equal("string", patient.GetProperty("createdAt").GetProperty("type").GetString());
        Assert.Equal("date-time", patient.GetProperty("createdAt").GetProperty("format").GetString());
        Assert.Equal("string", patient.GetProperty("fullName").GetProperty("type").GetString());
        Assert.Equal(["null", "string"], patient.GetProperty("phone").GetProperty("type").EnumerateArray().Select(t => t.GetString()).Order());

        // A PATCH body's nullable members are optional.
        var update = root.GetProperty("components").GetProperty("schemas").GetProperty("UpdatePatientRequest");
        Assert.False(update.TryGetProperty("required", out var required) && required.EnumerateArray().Any(r => r.GetString() == "phone"));
        var error = root.GetProperty("components").GetProperty("schemas").GetProperty("ApiError").GetProperty("properties");
        Assert.True(error.TryGetProperty("requestId", out _));
    }

    private static void Walk(JsonElement node, string path, List<string> untyped)
    {
        if (node.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in node.EnumerateArray())
            {
                Walk(item, $"{path}/{i++}", untyped);
            }

            return;
        }

        if (node.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (node.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in properties.EnumerateObject().Where(p => !Typed(p.Value)))
            {
                untyped.Add($"{path}/properties/{property.Name}");
            }
        }

        if (node.TryGetProperty("in", out _) && node.TryGetProperty("schema", out var schema) && !Typed(schema))
        {
            untyped.Add(path);
        }

        // Arrays name their items' type, enums their values' type, maps their values' type (only the
        // free-form JSON object may hold anything).
        if (node.TryGetProperty("type", out var type) && type.ToString().Contains("array", StringComparison.Ordinal)
            && (!node.TryGetProperty("items", out var items) || !Typed(items)))
        {
            untyped.Add($"{path}/items");
        }

        if (node.TryGetProperty("enum", out _) && !node.TryGetProperty("type", out _))
        {
            untyped.Add($"{path}/enum");
        }

        if (node.TryGetProperty("additionalProperties", out var values) && values.ValueKind == JsonValueKind.Object && !Typed(values)
            && path != "#/components/schemas/JsonElement")
        {
            untyped.Add($"{path}/additionalProperties");
        }

        foreach (var child in node.EnumerateObject())
        {
            Walk(child.Value, $"{path}/{child.Name}", untyped);
        }
    }

    private static bool Typed(JsonElement schema) =>
        schema.ValueKind == JsonValueKind.Object
        && (schema.TryGetProperty("type", out _) || schema.TryGetProperty("$ref", out _)
            || schema.TryGetProperty("allOf", out _) || schema.TryGetProperty("oneOf", out _) || schema.TryGetProperty("anyOf", out _));
}
