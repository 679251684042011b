#Requires -Version 7.6
# What PowerShell 7.4 (on .NET 8, Azure Automation's newest runtime) needs of the module, read from
# the metadata of every assembly the module ships: nothing built for, or referencing, a newer .NET.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    $script:Assemblies = @(Get-ChildItem (Join-Path $env:GADGET_MODULE_PATH '*.dll') | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    function Read-AssemblyMetadata {
        # The assembly's target framework and its references, read without loading it.
        param([string] $Path)
        $stream = [IO.File]::OpenRead($Path)
        $pe = [Reflection.PortableExecutable.PEReader]::new($stream)
        try {
            $reader = [Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            $framework = $null
            foreach ($handle in $reader.CustomAttributes) {
                $attribute = $reader.GetCustomAttribute($handle)
                if ($attribute.Constructor.Kind -ne [Reflection.Metadata.HandleKind]::MemberReference) { continue }
                $member = $reader.GetMemberReference([Reflection.Metadata.MemberReferenceHandle]$attribute.Constructor)
                if ($member.Parent.Kind -ne [Reflection.Metadata.HandleKind]::TypeReference) { continue }
                $type = $reader.GetTypeReference([Reflection.Metadata.TypeReferenceHandle]$member.Parent)
                if ($reader.GetString($type.Name) -ne 'TargetFrameworkAttribute') { continue }
                $blob = $reader.GetBlobReader($attribute.Value)
                $null = $blob.ReadUInt16()   # the prolog, 0x0001
                $framework = $blob.ReadSerializedString()
            }
            $references = foreach ($handle in $reader.AssemblyReferences) {
                $reference = $reader.GetAssemblyReference($handle)
                [pscustomobject]@{ Name = $reader.GetString($reference.Name); Version = $reference.Version }
            }
            [pscustomobject]@{ Framework = $framework; References = @($references) }
        }
        finally { $pe.Dispose(); $stream.Dispose() }
    }

    $script:Shipped = @(Get-ChildItem (Join-Path $ModulePath '*.dll') | ForEach-Object BaseName)
}

Describe 'Every assembly the module ships runs on .NET 8' {
    It '<Name> is built for .NET 8 or .NET Standard, and references no framework assembly newer than .NET 8' -TestCases $Assemblies {
        $metadata = Read-AssemblyMetadata (Join-Path $ModulePath $Name)
        $metadata.Framework | Should -Not -BeNullOrEmpty
        $metadata.Framework -match '^\.NET(CoreApp|Standard),Version=v(\d+)\.(\d+)$' | Should -BeTrue -Because $metadata.Framework
        if ($Matches[1] -eq 'CoreApp') { [int]$Matches[2] | Should -BeLessOrEqual 8 -Because $metadata.Framework }
        if ($Name -like 'Gadget.*') { $metadata.Framework | Should -BeExactly '.NETCoreApp,Version=v8.0' }

        # What the module does not ship comes from the runtime, or from PowerShell itself.
        foreach ($reference in $metadata.References | Where-Object Name -notin $Shipped) {
            if ($reference.Name -eq 'System.Management.Automation') {
                $reference.Version | Should -BeLessOrEqual ([version]'7.4.0.0') -Because 'the cmdlets compile against a PowerShell that 7.4 runs'
                continue
            }
            if ($reference.Name -eq 'Newtonsoft.Json') {
                # Only for [JsonIgnore], which ConvertTo-Json reads: PowerShell 7.4 to 7.6 carry Newtonsoft.Json 13.
                $reference.Version | Should -BeLessOrEqual ([version]'13.0.0.0') -Because 'the one PowerShell 7.4 loads is 13.0.0.0'
                continue
            }
            $reference.Version | Should -BeLessOrEqual ([version]'8.0.0.0') -Because "$Name references $($reference.Name) $($reference.Version)"
        }
    }

    It 'ships the cmdlets, the client, the protocol and the load context, and their dependencies' {
        foreach ($name in 'Gadget.Commands', 'Gadget.Client', 'Gadget.Protocol', 'Gadget.LoadContext', 'Grpc.Net.Client', 'KubernetesClient', 'YamlDotNet', 'Google.Protobuf') {
            $Shipped | Should -Contain $name
        }
        $Shipped | Should -Not -Contain 'System.Management.Automation' -Because 'PowerShell brings its own'
    }

    It 'has a manifest that PowerShell 7.4 and the gallery accept' {
        $manifest = Test-ModuleManifest (Join-Path $ModulePath 'Gadget.psd1')
        $manifest.PowerShellVersion | Should -Be ([version]'7.4')
        $manifest.CompatiblePSEditions | Should -Be @('Core')
        $manifest.ProjectUri | Should -Not -BeNullOrEmpty
        $manifest.LicenseUri | Should -Not -BeNullOrEmpty
        $manifest.ReleaseNotes | Should -Not -BeNullOrEmpty
        $manifest.Tags | Should -Contain 'PSEdition_Core'
        $commands = [Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModulePath 'Gadget.Commands.dll'))
        $manifest.Version | Should -Be ([version]"$($commands.Version.Major).$($commands.Version.Minor).$($commands.Version.Build)") -Because 'the manifest and the assemblies carry one version'
    }
}
