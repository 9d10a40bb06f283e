"""Stopword lists of the languages Tether analyses: Portuguese, Dutch, German, French, Spanish,
and English's long list.

Why a module of data: BM25 drops these words per language (``tether.retrieve.analyzer``), and
the language detector (``tether.text.languages``) scores a text by them. The lists are NLTK's
(the ones ``bm25s`` ships as ``STOPWORDS_<LANGUAGE>``), copied so that Tether's analysis equals
the reference pipeline (``bm25s`` with the same stemmer and stopwords) word for word; they are
lowercase, as the analyzer lowercases before it looks a word up.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: English (NLTK's full list: used to *detect* English; BM25 keeps the 33-word list).
ENGLISH_LONG: frozenset[str] = _words(
    "a about above after again against ain all am an and any are aren aren't as at be because "
    "been before being below between both but by can couldn couldn't d did didn didn't do does "
    "doesn doesn't doing don don't down during each few for from further had hadn hadn't has hasn "
    "hasn't have haven haven't having he her here hers herself him himself his how i if in into "
    "is isn isn't it it's its itself just ll m ma me mightn mightn't more most mustn mustn't my "
    "myself needn needn't no nor not now o of off on once only or other our ours ourselves out "
    "over own re s same shan shan't she she's should should've shouldn shouldn't so some such t "
    "than that that'll the their theirs them themselves then there these they this those through "
    "to too under until up ve very was wasn wasn't we were weren weren't what when where which "
    "while who whom why will with won won't wouldn wouldn't y you you'd you'll you're you've your "
    "yours yourself yourselves"
)

#: Portuguese.
PORTUGUESE: frozenset[str] = _words(
    "a ao aos aquela aquelas aquele aqueles aquilo as até com como da das de dela delas dele "
    "deles depois do dos e ela elas ele eles em entre era eram essa essas esse esses esta estamos "
    "estar estas estava estavam este esteja estejam estejamos estes esteve estive estivemos "
    "estiver estivera estiveram estiverem estivermos estivesse estivessem estivéramos "
    "estivéssemos estou está estávamos estão eu foi fomos for fora foram forem formos fosse "
    "fossem fui fôramos fôssemos haja hajam hajamos havemos haver hei houve houvemos houver "
    "houvera houveram houverei houverem houveremos houveria houveriam houvermos houverá houverão "
    "houveríamos houvesse houvessem houvéramos houvéssemos há hão isso isto já lhe lhes mais mas "
    "me mesmo meu meus minha minhas muito na nas nem no nos nossa nossas nosso nossos num numa "
    "não nós o os ou para pela pelas pelo pelos por qual quando que quem se seja sejam sejamos "
    "sem ser serei seremos seria seriam será serão seríamos seu seus somos sou sua suas são só "
    "também te tem temos tenha tenham tenhamos tenho terei teremos teria teriam terá terão "
    "teríamos teu teus teve tinha tinham tive tivemos tiver tivera tiveram tiverem tivermos "
    "tivesse tivessem tivéramos tivéssemos tu tua tuas tém tínhamos um uma você vocês vos à às é "
    "éramos"
)

#: Dutch.
DUTCH: frozenset[str] = _words(
    "aan al alles als altijd andere ben bij daar dan dat de der deze die dit doch doen door dus "
    "een eens en er ge geen geweest haar had heb hebben heeft hem het hier hij hoe hun iemand "
    "iets ik in is ja je kan kon kunnen maar me meer men met mij mijn moet na naar niet niets nog "
    "nu of om omdat onder ons ook op over reeds te tegen toch toen tot u uit uw van veel voor "
    "want waren was wat werd wezen wie wil worden wordt zal ze zelf zich zij zijn zo zonder zou"
)

#: German.
GERMAN: frozenset[str] = _words(
    "aber alle allem allen aller alles als also am an ander andere anderem anderen anderer "
    "anderes anderm andern anderr anders auch auf aus bei bin bis bist da damit dann das dass "
    "dasselbe dazu daß dein deine deinem deinen deiner deines dem demselben den denn denselben "
    "der derer derselbe derselben des desselben dessen dich die dies diese dieselbe dieselben "
    "diesem diesen dieser dieses dir doch dort du durch ein eine einem einen einer eines einig "
    "einige einigem einigen einiger einiges einmal er es etwas euch euer eure eurem euren eurer "
    "eures für gegen gewesen hab habe haben hat hatte hatten hier hin hinter ich ihm ihn ihnen "
    "ihr ihre ihrem ihren ihrer ihres im in indem ins ist jede jedem jeden jeder jedes jene jenem "
    "jenen jener jenes jetzt kann kein keine keinem keinen keiner keines können könnte machen man "
    "manche manchem manchen mancher manches mein meine meinem meinen meiner meines mich mir mit "
    "muss musste nach nicht nichts noch nun nur ob oder ohne sehr sein seine seinem seinen seiner "
    "seines selbst sich sie sind so solche solchem solchen solcher solches soll sollte sondern "
    "sonst um und uns unser unsere unserem unseren unseres unter viel vom von vor war waren warst "
    "was weg weil weiter welche welchem welchen welcher welches wenn werde werden wie wieder will "
    "wir wird wirst wo wollen wollte während würde würden zu zum zur zwar zwischen über"
)

#: French.
FRENCH: frozenset[str] = _words(
    "ai aie aient aies ait as au aura aurai auraient aurais aurait auras aurez auriez aurions "
    "aurons auront aux avaient avais avait avec avez aviez avions avons ayant ayante ayantes "
    "ayants ayez ayons c ce ces d dans de des du elle en es est et eu eue eues eurent eus eusse "
    "eussent eusses eussiez eussions eut eux eûmes eût eûtes furent fus fusse fussent fusses "
    "fussiez fussions fut fûmes fût fûtes il ils j je l la le les leur lui m ma mais me mes moi "
    "mon même n ne nos notre nous on ont ou par pas pour qu que qui s sa se sera serai seraient "
    "serais serait seras serez seriez serions serons seront ses soient sois soit sommes son sont "
    "soyez soyons suis sur t ta te tes toi ton tu un une vos votre vous y à étaient étais était "
    "étant étante étantes étants étiez étions été étée étées étés êtes"
)

#: Spanish.
SPANISH: frozenset[str] = _words(
    "a al algo algunas algunos ante antes como con contra cual cuando de del desde donde durante "
    "e el ella ellas ellos en entre era erais eran eras eres es esa esas ese eso esos esta estaba "
    "estabais estaban estabas estad estada estadas estado estados estamos estando estar estaremos "
    "estará estarán estarás estaré estaréis estaría estaríais estaríamos estarían estarías estas "
    "este estemos esto estos estoy estuve estuviera estuvierais estuvieran estuvieras estuvieron "
    "estuviese estuvieseis estuviesen estuvieses estuvimos estuviste estuvisteis estuviéramos "
    "estuviésemos estuvo está estábamos estáis están estás esté estéis estén estés fue fuera "
    "fuerais fueran fueras fueron fuese fueseis fuesen fueses fui fuimos fuiste fuisteis fuéramos "
    "fuésemos ha habida habidas habido habidos habiendo habremos habrá habrán habrás habré "
    "habréis habría habríais habríamos habrían habrías habéis había habíais habíamos habían "
    "habías han has hasta hay haya hayamos hayan hayas hayáis he hemos hube hubiera hubierais "
    "hubieran hubieras hubieron hubiese hubieseis hubiesen hubieses hubimos hubiste hubisteis "
    "hubiéramos hubiésemos hubo la las le les lo los me mi mis mucho muchos muy más mí mía mías "
    "mío míos nada ni no nos nosotras nosotros nuestra nuestras nuestro nuestros o os otra otras "
    "otro otros para pero poco por porque que quien quienes qué se sea seamos sean seas sentid "
    "sentida sentidas sentido sentidos seremos será serán serás seré seréis sería seríais "
    "seríamos serían serías seáis siente sin sintiendo sobre sois somos son soy su sus suya suyas "
    "suyo suyos sí también tanto te tendremos tendrá tendrán tendrás tendré tendréis tendría "
    "tendríais tendríamos tendrían tendrías tened tenemos tenga tengamos tengan tengas tengo "
    "tengáis tenida tenidas tenido tenidos teniendo tenéis tenía teníais teníamos tenían tenías "
    "ti tiene tienen tienes todo todos tu tus tuve tuviera tuvierais tuvieran tuvieras tuvieron "
    "tuviese tuvieseis tuviesen tuvieses tuvimos tuviste tuvisteis tuviéramos tuviésemos tuvo "
    "tuya tuyas tuyo tuyos tú un una uno unos vosotras vosotros vuestra vuestras vuestro vuestros "
    "y ya yo él éramos"
)
