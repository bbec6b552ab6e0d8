package agreements

// words are the fixed texts of an agreement in one language: everything on
// it but the agency's terms and the records. A language the agency keeps
// terms in that has no words here prints English around its terms.
type words struct {
	Title, Intro, LoanNumber                                    string
	Client, Name, CaseNumber                                    string
	Device, Kind, MakeModel, Serial, IMEI, AssetTag             string
	Accessories, ReplacementCost                                string
	DataPlan, Carrier, LineNumber, DataCap, Unlimited, PlanEnds string
	Period, IssuedOn, DueOn                                     string
	Terms, TermsVersion                                         string
	YourData, Wipe                                              string
	Contact, ContactText                                        string
	Signatures, ClientSignature, Witness, Date                  string
	SignedOnPaper, TypedSignature, SignedAt                     string
	// Footer is a format: loan number, terms version, language, page,
	// pages.
	Footer string
	None   string
}

var wordsIn = map[string]words{
	"en": {
		Title:           "Device loan agreement",
		Intro:           "This agreement records the device the agency lends to the client named below, and the terms of the loan.",
		LoanNumber:      "Loan no. %d",
		Client:          "Client",
		Name:            "Name",
		CaseNumber:      "Case number",
		Device:          "Device",
		Kind:            "Kind",
		MakeModel:       "Make and model",
		Serial:          "Serial number",
		IMEI:            "IMEI",
		AssetTag:        "Asset tag",
		Accessories:     "Accessories",
		ReplacementCost: "replacement cost",
		DataPlan:        "Data plan",
		Carrier:         "Carrier",
		LineNumber:      "Line number",
		DataCap:         "Data cap",
		Unlimited:       "unlimited",
		PlanEnds:        "Plan ends on",
		Period:          "Loan period",
		IssuedOn:        "Issued on",
		DueOn:           "Due back on",
		Terms:           "Terms",
		TermsVersion:    "Terms version %d (%s)",
		YourData:        "Your data on the device",
		Wipe:            "When the device is returned, the agency erases everything on it (photos, messages, accounts, files) before lending it again, and cannot recover any of it afterwards. Copy what you want to keep and sign out of your accounts before you bring it back.",
		Contact:         "How to reach the agency",
		ContactText:     "For questions, help with the device, a renewal, or a device that is lost, stolen or broken:",
		Signatures:      "Signatures",
		ClientSignature: "Client",
		Witness:         "Witnessed by (staff)",
		Date:            "Date",
		SignedOnPaper:   "Signed on paper; the agency keeps the signed copy.",
		TypedSignature:  "Signed by typing the name:",
		SignedAt:        "Signed",
		Footer:          "Loan %d · terms version %d (%s) · page %d of %d",
		None:            "none",
	},
	"es": {
		Title:           "Contrato de préstamo de equipo",
		Intro:           "Este contrato deja constancia del equipo que la agencia presta a la persona indicada abajo y de las condiciones del préstamo.",
		LoanNumber:      "Préstamo n.º %d",
		Client:          "Cliente",
		Name:            "Nombre",
		CaseNumber:      "Número de caso",
		Device:          "Equipo",
		Kind:            "Tipo",
		MakeModel:       "Marca y modelo",
		Serial:          "Número de serie",
		IMEI:            "IMEI",
		AssetTag:        "Etiqueta de inventario",
		Accessories:     "Accesorios",
		ReplacementCost: "costo de reposición",
		DataPlan:        "Plan de datos",
		Carrier:         "Operador",
		LineNumber:      "Número de línea",
		DataCap:         "Límite de datos",
		Unlimited:       "ilimitado",
		PlanEnds:        "El plan termina el",
		Period:          "Periodo del préstamo",
		IssuedOn:        "Entregado el",
		DueOn:           "Se devuelve el",
		Terms:           "Condiciones",
		TermsVersion:    "Condiciones, versión %d (%s)",
		YourData:        "Sus datos en el equipo",
		Wipe:            "Cuando el equipo se devuelve, la agencia borra todo su contenido (fotos, mensajes, cuentas, archivos) antes de prestarlo de nuevo, y después no puede recuperar nada. Copie lo que quiera conservar y cierre sus cuentas antes de devolverlo.",
		Contact:         "Cómo comunicarse con la agencia",
		ContactText:     "Para preguntas, ayuda con el equipo, una renovación, o un equipo perdido, robado o dañado:",
		Signatures:      "Firmas",
		ClientSignature: "Cliente",
		Witness:         "Testigo (personal de la agencia)",
		Date:            "Fecha",
		SignedOnPaper:   "Firmado en papel; la agencia conserva la copia firmada.",
		TypedSignature:  "Firmado escribiendo el nombre:",
		SignedAt:        "Firmado",
		Footer:          "Préstamo %d · condiciones versión %d (%s) · página %d de %d",
		None:            "ninguno",
	},
	"fr": {
		Title:           "Contrat de prêt d'appareil",
		Intro:           "Ce contrat décrit l'appareil que l'organisme prête à la personne nommée ci-dessous et les conditions du prêt.",
		LoanNumber:      "Prêt n° %d",
		Client:          "Bénéficiaire",
		Name:            "Nom",
		CaseNumber:      "Numéro de dossier",
		Device:          "Appareil",
		Kind:            "Type",
		MakeModel:       "Marque et modèle",
		Serial:          "Numéro de série",
		IMEI:            "IMEI",
		AssetTag:        "Étiquette d'inventaire",
		Accessories:     "Accessoires",
		ReplacementCost: "coût de remplacement",
		DataPlan:        "Forfait de données",
		Carrier:         "Opérateur",
		LineNumber:      "Numéro de ligne",
		DataCap:         "Limite de données",
		Unlimited:       "illimité",
		PlanEnds:        "Le forfait prend fin le",
		Period:          "Durée du prêt",
		IssuedOn:        "Remis le",
		DueOn:           "À rendre le",
		Terms:           "Conditions",
		TermsVersion:    "Conditions, version %d (%s)",
		YourData:        "Vos données sur l'appareil",
		Wipe:            "Au retour de l'appareil, l'organisme efface tout ce qu'il contient (photos, messages, comptes, fichiers) avant de le prêter à nouveau, et ne peut plus rien récupérer ensuite. Copiez ce que vous voulez garder et déconnectez vos comptes avant de le rapporter.",
		Contact:         "Joindre l'organisme",
		ContactText:     "Pour une question, de l'aide avec l'appareil, un renouvellement, ou un appareil perdu, volé ou abîmé :",
		Signatures:      "Signatures",
		ClientSignature: "Bénéficiaire",
		Witness:         "Témoin (personnel de l'organisme)",
		Date:            "Date",
		SignedOnPaper:   "Signé sur papier ; l'organisme conserve l'exemplaire signé.",
		TypedSignature:  "Signé en saisissant le nom :",
		SignedAt:        "Signé le",
		Footer:          "Prêt %d · conditions version %d (%s) · page %d sur %d",
		None:            "aucun",
	},
}

// wordsFor returns the words in lang, or in English.
func wordsFor(lang string) words {
	if w, ok := wordsIn[lang]; ok {
		return w
	}
	return wordsIn[DefaultLanguage]
}
