/**
 * The pieces of the built-in tokenizer's vocabulary: every single character the tests and examples
 * type (with and without the word-start mark), and common English words and suffixes, including those
 * of T5's task prompts ("translate English to German: …", "summarize: …"). Order matters: earlier
 * pieces get better scores, as in a SentencePiece model sorted by frequency.
 */

/** Whole words; each becomes the piece `▁word` (start of a word). */
export const commonWords: readonly string[] = `
the , . of and to a in is that for it as was with be by on not he I this are or his from at which
but have an they you were her she there been one all we their has would when if will more no out so
said what up its about into than them can only other new some could time these two may then do first
any my now such like our over man me even most made after also did many before must through back years
where much your way well down should because each just those people Mr how too little state good very
make world still own see men work long get here between both life being under never day same another
know while last might us great old year off come since against go came right used take three
translate English German French Romanian to summarize summary question answer context sentence
premise hypothesis cola stsb sentence1 sentence2 mnli qnli rte wnli boolq
house is wonderful The This It A We They He She I You In On At
cat sat mat dog ran park car road city country home family friend school book water food tree
small big large short happy sad fast slow early late today tomorrow yesterday morning evening night
weather sun rain snow wind cold warm hot red blue green black white color number word text language
model data test step token decode encoder decoder value key query attention layer
please thank hello goodbye yes want need think say tell ask give find use try call keep let begin
seem help show hear play run move live believe bring happen write provide sit stand lose pay meet
include continue set learn change lead understand watch follow stop create speak read allow add spend
grow open walk win offer remember love consider appear buy wait serve die send expect build stay
fall cut reach kill remain suggest raise pass sell require report decide pull
Haus ist wunderbar Das Die Der und nicht ein eine mit von zu den
`.trim().split(/\s+/);

/** Word endings and fragments; pieces without the word-start mark, used inside words. */
export const commonSuffixes: readonly string[] = `
s es ed ing er est ly tion ment ness able ful less al ous ive ity ize ise en an on in re un de
th he ar or at it is as st nd ng ou ea
`.trim().split(/\s+/);

/** Every single character the built-in tokenizer knows; others become `<unk>`. */
export const characters: readonly string[] = [
  ...'abcdefghijklmnopqrstuvwxyz',
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'0123456789',
  ...`.,:;!?'"-()[]{}/\\&%$#@*+=<>_~^|\``,
  ...'äöüßÄÖÜéèàç€',
];
