#Requires -Version 7.6
# The module's help: MAML built from module/help, checked against the cmdlets' real metadata.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    $manifest = Import-PowerShellDataFile (Join-Path $ModulePath 'Gadget.psd1')
    $script:CmdletNames = @($manifest.CmdletsToExport | ForEach-Object { @{ Name = $_ } })
    # The gadgets with a cmdlet of their own, by the top-level keys of their gadget.yaml.
    $script:GadgetCmdlets = @(foreach ($file in Get-ChildItem (Join-Path $PSScriptRoot '../../bpf') -Filter gadget.yaml -Recurse) {
        $text = Get-Content $file.FullName -Raw
        if ($text -match '(?m)^cmdlet:\s*(?<cmdlet>\S+)') {
            $cmdlet = $Matches.cmdlet
            if ($text -match '(?m)^typeName:\s*(?<type>\S+)') {
                @{ Gadget = $file.Directory.Name; Cmdlet = $cmdlet; Type = "Gadget.$($Matches.type)" }
            }
        }
    })
}

BeforeAll {
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Common = [Management.Automation.Cmdlet]::CommonParameters + [Management.Automation.Cmdlet]::OptionalCommonParameters

    function Get-GadgetMetadata {
        # A gadget's gadget.yaml, read by the module's own reader.
        param([string] $Gadget)
        $context = [Gadget.LoadContext.ModuleLoadContext]::ForModule($ModulePath)
        $reader = $context.LoadFromAssemblyName([Reflection.AssemblyName]::new('Gadget.Schema')).GetType('Gadget.Schema.GadgetMetadata', $true)
        $reader::Parse((Get-Content (Join-Path $PSScriptRoot "../../bpf/$Gadget/gadget.yaml") -Raw))
    }

    function Get-HelpText {
        # The paragraphs of a help item's description, one line each, as the MAML holds them.
        param($Item)
        (@($Item.description | ForEach-Object Text) -join "`n") -replace '[ \t]+', ' '
    }
}

Describe 'The module' {
    It 'exports exactly the cmdlets of its manifest' {
        $exported = (Get-Module Gadget).ExportedCmdlets.Keys | Sort-Object
        $exported | Should -Be ($CmdletNames.Name | Sort-Object)
    }

    It 'ships a well-formed MAML help file for the cmdlet assembly' {
        $path = Join-Path $ModulePath 'en-US/Gadget.Commands.dll-Help.xml'
        $path | Should -Exist
        $xml = [xml](Get-Content $path -Raw)
        $xml.helpItems.schema | Should -BeExactly 'maml'
        @($xml.helpItems.command).Count | Should -Be $CmdletNames.Count
    }

    It 'has an about_Gadget topic' {
        Join-Path $ModulePath 'en-US/about_Gadget.help.txt' | Should -Exist
        $topic = Get-Help about_Gadget | Out-String
        $topic | Should -Match 'about_Gadget'
        $topic | Should -Match 'Trace-GadgetExec'
    }

    It 'names every cmdlet in about_Gadget' {
        $topic = Get-Content (Join-Path $ModulePath 'en-US/about_Gadget.help.txt') -Raw
        foreach ($name in $CmdletNames.Name) { $topic | Should -Match "\b$([regex]::Escape($name))\b" }
    }
}

Describe 'The lists in the help of <Cmdlet>, from gadget <Gadget>' -ForEach $GadgetCmdlets {
    BeforeAll {
        $script:Metadata = Get-GadgetMetadata $Gadget
        $returned = (Get-Help $Cmdlet -Full).returnValues.returnValue | Where-Object { $_.type.name -eq $Type }
        $script:Outputs = Get-HelpText $returned
    }

    It 'lists every public property of <Type>, with its type' {
        $Outputs | Should -Not -BeNullOrEmpty
        foreach ($property in ($Type -as [type]).GetProperties([Reflection.BindingFlags]'Public, Instance')) {
            $Outputs | Should -Match "(?m)^$($property.Name) \[" -Because "$Type has the property $($property.Name)"
        }
    }

    It 'describes each of the gadget''s fields as its gadget.yaml does' {
        $described = @($Metadata.Fields | Where-Object { $_.Description -and $_.Annotations['gadget.visibility'] -ne 'internal' })
        $described.Count | Should -BeGreaterThan 0
        foreach ($field in $described) {
            $Outputs | Should -Match ([regex]::Escape(($field.Description -replace '\s+', ' ').Trim())) -Because "field $($field.Path) is described in gadget.yaml"
        }
    }

    It 'lists the gadget''s parameters by their keys, with their descriptions' {
        $notes = (Get-Help $Cmdlet -Full).alertSet.alert.Text -join "`n"
        foreach ($parameter in @($Metadata.ProgramParameters) + @($Metadata.AgentParameters)) {
            $notes | Should -Match "(?m)^- $([regex]::Escape($parameter.Key)): $([regex]::Escape($parameter.Description.Substring(0, [Math]::Min(20, $parameter.Description.Length))))"
        }
    }
}

Describe 'Start-GadgetTrace''s lists of the gadgets' {
    BeforeAll {
        $script:Gadgets = @(foreach ($folder in Get-ChildItem (Join-Path $PSScriptRoot '../../bpf') -Directory | Where-Object { Test-Path (Join-Path $_.FullName 'gadget.yaml') }) {
            Get-GadgetMetadata $folder.Name
        })
        $script:GadgetHelp = Get-HelpText (Get-Help Start-GadgetTrace -Parameter Gadget)
        $script:ParameterHelp = Get-HelpText (Get-Help Start-GadgetTrace -Parameter Parameter)
    }

    It 'names every gadget under bpf/, with its description, under -Gadget' {
        $Gadgets.Count | Should -BeGreaterThan 0
        foreach ($gadget in $Gadgets) {
            $GadgetHelp | Should -Match "(?m)^- $($gadget.Name): $([regex]::Escape($gadget.Description.Trim()))"
        }
        $GadgetHelp | Should -Match '(?m)^- signal: .*\(Trace-GadgetSignal\)$'
    }

    It 'names every gadget parameter by its key under -Parameter' {
        foreach ($gadget in $Gadgets) {
            foreach ($parameter in @($gadget.ProgramParameters) + @($gadget.AgentParameters)) {
                $ParameterHelp | Should -Match "(?m)^- $($gadget.Name) $([regex]::Escape($parameter.Key)): "
            }
        }
        $ParameterHelp | Should -Match '(?m)^- exec include-failed: .*Default: false\.$'
    }

    It 'declares every gadget''s type as an output type' {
        $declared = @((Get-Command Start-GadgetTrace).OutputType.Name)
        foreach ($gadget in $Gadgets | Where-Object TypeName) {
            $declared | Should -Contain "Gadget.$($gadget.TypeName)"
        }
    }
}

Describe '<Name>' -ForEach $CmdletNames {
    BeforeAll {
        $script:Command = Get-Command $Name
        $script:Help = Get-Help $Name -Full
    }

    It 'declares an OutputType' {
        $Command.OutputType | Should -Not -BeNullOrEmpty
    }

    It 'has a synopsis and a description written for it' {
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        $Help.Synopsis.Trim() | Should -Not -Match "^$([regex]::Escape($Name))\s*\[" -Because 'an autogenerated synopsis is only the syntax'
        ($Help.description.Text -join ' ') | Should -Match '\w+ \w+ \w+'
    }

    It 'has examples with code that calls it, and remarks' {
        $examples = @((Get-Help $Name -Examples).examples.example)
        $examples.Count | Should -BeGreaterOrEqual 3
        foreach ($example in $examples) {
            $example.code | Should -Match ([regex]::Escape($Name))
            ($example.remarks.Text -join '').Trim() | Should -Not -BeNullOrEmpty
        }
    }

    It 'describes every parameter, with the type and flags of the code' {
        $described = @{}
        foreach ($parameter in (Get-Help $Name -Parameter *)) { $described[$parameter.name] = $parameter }
        foreach ($parameter in $Command.Parameters.Values | Where-Object Name -notin $Common) {
            $described.Keys | Should -Contain $parameter.Name
            $help = $described[$parameter.Name]
            ($help.description.Text -join ' ') | Should -Match '\w+ \w+' -Because "-$($parameter.Name) needs a description"
            $mandatory = @($parameter.ParameterSets.Values | Where-Object IsMandatory).Count -gt 0
            $help.required | Should -Be $mandatory.ToString().ToLowerInvariant()
            $type = [Nullable]::GetUnderlyingType($parameter.ParameterType) ?? $parameter.ParameterType
            $help.type.name | Should -BeExactly $type.FullName
        }
    }

    It 'shows the syntax of the code' {
        $syntax = (Get-Help $Name).syntax | Out-String -Width 1000
        foreach ($parameter in $Command.Parameters.Values | Where-Object Name -notin $Common) {
            $syntax | Should -Match "-$($parameter.Name)\b"
        }
    }

    It 'lists -WhatIf and -Confirm in every syntax block of a cmdlet that changes things' {
        if (-not $Command.Parameters.ContainsKey('WhatIf')) { return }
        $blocks = @((Get-Help $Name).syntax.syntaxItem)
        $blocks.Count | Should -BeGreaterThan 0
        foreach ($block in $blocks) {
            $names = @($block.parameter.name)
            $names | Should -Contain 'WhatIf'
            $names | Should -Contain 'Confirm'
        }
    }

    It 'names its output types in the help' {
        $returned = @($Help.returnValues.returnValue.type.name)
        foreach ($type in $Command.OutputType) {
            $returned | Should -Contain $type.Name
        }
    }

    It 'names in INPUTS what it takes from the pipeline, and None only when it takes nothing' {
        $inputs = @($Help.inputTypes.inputType.type.name | ForEach-Object { "$_".Trim() })
        $piped = @($Command.Parameters.Values | Where-Object {
                $_.Name -notin $Common -and @($_.Attributes | Where-Object { $_ -is [Parameter] -and ($_.ValueFromPipeline -or $_.ValueFromPipelineByPropertyName) }).Count -gt 0
            })
        if ($piped.Count -eq 0) {
            $inputs | Should -Be @('None')
        }
        else {
            $inputs | Should -Not -Contain 'None' -Because "-$($piped[0].Name) takes pipeline input"
            # -InputObject takes containers and processes (by Id): the help names both.
            $inputs | Should -Contain 'Gadget.GadgetContainer'
            $inputs | Should -Contain 'System.Diagnostics.Process'
        }
    }

    It 'links to about_Gadget' {
        @($Help.relatedLinks.navigationLink.linkText) | Should -Contain 'about_Gadget'
    }
}

Describe 'Start-GadgetTrace help' {
    It 'says that it blocks while it streams' {
        (Get-Help Start-GadgetTrace).description.Text -join ' ' | Should -Match 'blocks while it streams'
    }
}

Describe 'Build-GadgetHelp.ps1' {
    BeforeAll {
        $script:Builder = Join-Path $PSScriptRoot '../../module/help/Build-GadgetHelp.ps1'
        $script:Sources = Join-Path $TestDrive 'sources'
        $script:Staged = Join-Path $TestDrive 'Gadget'
        Copy-Item (Join-Path $PSScriptRoot '../../module/help') $Sources -Recurse
        Copy-Item $ModulePath $Staged -Recurse
        Remove-Item (Join-Path $Staged 'en-US') -Recurse -Force -ErrorAction Ignore

        function Edit-Source {
            # Replaces $Pattern (a regex, multiline) in a help source.
            param([string] $Cmdlet, [string] $Pattern, [string] $Replacement)
            $path = Join-Path $Sources "$Cmdlet.md"
            $text = Get-Content $path -Raw
            $edited = [regex]::Replace($text, $Pattern, $Replacement, 'Multiline')
            $edited | Should -Not -Be $text -Because "the pattern must change $Cmdlet.md"
            Set-Content $path $edited -NoNewline
        }
    }

    BeforeEach {
        Remove-Item $Sources -Recurse -Force
        Copy-Item (Join-Path $PSScriptRoot '../../module/help') $Sources -Recurse
    }

    It 'fails when a parameter has no description' {
        Edit-Source Trace-GadgetExec '^### -Comm\r?\n(.+\r?\n)+?\r?\n' ''
        { & $Builder -ModulePath $Staged -SourcePath $Sources } | Should -Throw '*parameter -Comm has no description*'
    }

    It 'fails when a parameter described does not exist' {
        Edit-Source Get-GadgetVersion '^## PARAMETERS\r?\n' "## PARAMETERS`n`n### -Namespace`nThe namespace.`n"
        { & $Builder -ModulePath $Staged -SourcePath $Sources } | Should -Throw '*-Namespace is described but the cmdlet has no such parameter*'
    }

    It 'fails when an output type is not described' {
        Edit-Source Start-GadgetTrace '^### Gadget\.ExecEvent\r?\n' "### Gadget.OtherEvent`n"
        { & $Builder -ModulePath $Staged -SourcePath $Sources } | Should -Throw '*output type Gadget.ExecEvent*'
    }

    It 'fails on a list it does not know' {
        Edit-Source Start-GadgetTrace '^<!-- gadgets -->' '<!-- gadget -->'
        { & $Builder -ModulePath $Staged -SourcePath $Sources } | Should -Throw "*'<!-- gadget -->' is no list this build knows*"
    }

    It 'fails when a list names a gadget that does not exist' {
        Edit-Source Trace-GadgetSignal '^<!-- gadget-parameters signal -->' '<!-- gadget-parameters signals -->'
        { & $Builder -ModulePath $Staged -SourcePath $Sources } | Should -Throw '*names no gadget under bpf/*'
    }

    Context 'gadgets that disagree with the module' {
        BeforeEach {
            $script:Gadgets = Join-Path $TestDrive 'bpf'
            Remove-Item $Gadgets -Recurse -Force -ErrorAction Ignore
            foreach ($file in Get-ChildItem (Join-Path $PSScriptRoot '../../bpf') -Filter gadget.yaml -Recurse) {
                $folder = New-Item (Join-Path $Gadgets $file.Directory.Name) -ItemType Directory -Force
                Copy-Item $file.FullName $folder
            }
        }

        It 'fails when a gadget names a cmdlet the module does not export' {
            $path = Join-Path $Gadgets 'signal/gadget.yaml'
            (Get-Content $path -Raw) -replace '(?m)^cmdlet: Trace-GadgetSignal', 'cmdlet: Trace-GadgetSignals' | Set-Content $path -NoNewline
            { & $Builder -ModulePath $Staged -SourcePath $Sources -GadgetPath $Gadgets } |
                Should -Throw '*gadget signal names the cmdlet Trace-GadgetSignals, which the module does not export*'
        }

        It 'fails when the help that lists the gadgets belongs to a cmdlet that lacks a gadget''s type' {
            $folder = New-Item (Join-Path $Gadgets 'other') -ItemType Directory
            Set-Content (Join-Path $folder 'gadget.yaml') "name: other`ndescription: Another gadget.`ntypeName: OtherEvent`n"
            { & $Builder -ModulePath $Staged -SourcePath $Sources -GadgetPath $Gadgets } |
                Should -Throw "*Start-GadgetTrace's ``[OutputType``] lacks gadget other's type Gadget.OtherEvent*"
        }
    }

    It 'names the assembly whose XML documentation it cannot find' {
        $empty = New-Item (Join-Path $TestDrive 'no-build') -ItemType Directory -Force
        { & $Builder -ModulePath $Staged -SourcePath $Sources -BuildOutputPath $empty } |
            Should -Throw '*No XML documentation for*Gadget.Client.dll*'
    }
}
